package kv

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsArePure keeps the state machine deterministic by construction:
// no clock, OS, network, locks, randomness or goroutine helpers, and no
// third-party code but the in-memory B-tree (see DESIGN.md).
func TestImportsArePure(t *testing.T) {
	allowed := map[string]bool{
		"encoding/binary": true, "errors": true, "fmt": true, "hash": true,
		"hash/crc32": true, "io": true, "sort": true,
		"github.com/google/btree":                true,
		"github.com/raftkv/raftkv/internal/raft": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[path] {
				t.Errorf("%s imports %q; the state machine must stay pure (see DESIGN.md before widening this list)", name, path)
			}
		}
	}
}
