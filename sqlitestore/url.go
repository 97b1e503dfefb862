package sqlitestore

import (
	"fmt"
	"net/url"
	"strings"
)

// PathFromURL returns the file path of a URL-style setting: "sqlite://./data/easel.db"
// is the relative path "./data/easel.db", "sqlite:///var/lib/easel.db" the absolute
// path "/var/lib/easel.db". Percent escapes are decoded; query parameters are refused.
func PathFromURL(u string) (string, error) {
	rest, ok := strings.CutPrefix(u, "sqlite://")
	if !ok {
		return "", fmt.Errorf("sqlite URL %q: want sqlite://PATH", u)
	}
	if strings.ContainsAny(rest, "?#") {
		return "", fmt.Errorf("sqlite URL %q: query parameters are not supported", u)
	}
	path, err := url.PathUnescape(rest)
	if err != nil {
		return "", fmt.Errorf("sqlite URL %q: %w", u, err)
	}
	if strings.ContainsRune(path, 0) {
		return "", fmt.Errorf("sqlite URL %q: NUL in path", u)
	}
	if path == "" || strings.HasSuffix(path, "/") {
		return "", fmt.Errorf("sqlite URL %q: no file name", u)
	}
	return path, nil
}
