package main

import (
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/wiretrace/wiretrace/otelhooks"
)

// versionText is what --version prints: the module's version as the
// build recorded it, the commit if known, otelhooks' version, and Go's.
func versionText() string {
	version, commit, dirty := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	parts := []string{"wiretrace", version}
	if commit != "" {
		c := commit[:min(len(commit), 12)]
		if dirty {
			c += "+dirty"
		}
		parts = append(parts, "commit "+c)
	}
	parts = append(parts, "(otelhooks "+otelhooks.Version()+")", runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return strings.Join(parts, " ")
}
