package main

import (
	"bufio"
	"debug/buildinfo"
	"fmt"
	"os"
	"strings"
)

const jaegerModule = "github.com/jaegertracing/jaeger"

// binaryMatches reports whether bin is a jaeger built from the tool module
// described by modfile and sumfile: the jaeger module at the version the
// go.mod requires, and every module linked into it at a version and hash
// that the go.sum lists. A bump of jaeger, or of anything it links, makes
// it stale.
func binaryMatches(bin, modfile, sumfile string) error {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("binary: %w", err)
	}
	want, err := requiredVersion(modfile, jaegerModule)
	if err != nil {
		return err
	}
	if info.Main.Path != jaegerModule || info.Main.Version != want {
		return fmt.Errorf("binary: %s is %s@%s, want %s@%s", bin, info.Main.Path, info.Main.Version, jaegerModule, want)
	}
	sums, err := readSums(sumfile)
	if err != nil {
		return err
	}
	if !sums[info.Main.Path+" "+info.Main.Version+" "+info.Main.Sum] {
		return fmt.Errorf("binary: %s: %s %s %s is not in %s", bin, info.Main.Path, info.Main.Version, info.Main.Sum, sumfile)
	}
	for _, d := range info.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		if !sums[m.Path+" "+m.Version+" "+m.Sum] {
			return fmt.Errorf("binary: %s links %s %s, which %s does not list", bin, m.Path, m.Version, sumfile)
		}
	}
	return nil
}

// requiredVersion returns the version of module that the go.mod at path
// requires.
func requiredVersion(path, module string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("binary: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == module {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("binary: %s does not require %s", path, module)
}

// readSums returns the "path version hash" lines of a go.sum.
func readSums(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	defer f.Close()
	sums := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sums[strings.TrimSpace(sc.Text())] = true
	}
	return sums, sc.Err()
}
