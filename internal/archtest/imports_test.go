package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/raftkv/raftkv"

// pkgFiles maps a package directory (relative to the module root) to its
// parsed non-test files.
func loadPackages(t *testing.T) map[string][]*ast.File {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	pkgs := map[string][]*ast.File{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "out") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" && strings.Contains(path, "/testdata/") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkgs[filepath.ToSlash(rel)] = append(pkgs[filepath.ToSlash(rel)], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 {
		t.Fatal("found no packages")
	}
	return pkgs
}

func imports(files []*ast.File) []string {
	var out []string
	for _, f := range files {
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			out = append(out, p)
		}
	}
	return out
}

func isStdlib(p string) bool {
	first := strings.SplitN(p, "/", 2)[0]
	return !strings.Contains(first, ".")
}

func under(dir, prefix string) bool { return dir == prefix || strings.HasPrefix(dir, prefix+"/") }

// The consensus core is a pure state machine: standard library only, and
// none of the packages that reach a clock, the OS, the network, global
// randomness or goroutine synchronisation.
func TestRaftCoreIsPure(t *testing.T) {
	pkgs := loadPackages(t)
	forbidden := map[string]bool{"time": true, "os": true, "net": true, "math/rand": true, "math/rand/v2": true,
		"sync": true, "sync/atomic": true, "os/exec": true, "syscall": true, "unsafe": true, "io/ioutil": true, "net/http": true}
	found := false
	for dir, files := range pkgs {
		if !under(dir, "internal/raft") {
			continue
		}
		found = true
		for _, p := range imports(files) {
			switch {
			case strings.HasPrefix(p, module+"/internal/raft"):
			case !isStdlib(p):
				t.Errorf("%s imports %s: the core may import only the standard library", dir, p)
			case forbidden[p] || strings.HasPrefix(p, "net/") || strings.HasPrefix(p, "os/"):
				t.Errorf("%s imports %s: the core must not reach clocks, the OS, the network, global randomness or locks", dir, p)
			}
		}
	}
	if !found {
		t.Fatal("internal/raft not found")
	}
}

// The layering rules between the other packages.
func TestLayering(t *testing.T) {
	pkgs := loadPackages(t)
	for dir, files := range pkgs {
		for _, p := range imports(files) {
			if !strings.HasPrefix(p, module+"/") {
				continue
			}
			target := strings.TrimPrefix(p, module+"/")
			switch {
			case (under(target, "internal/sim") || under(target, "internal/coursesim")) &&
				!under(dir, "cmd") && !under(dir, target):
				t.Errorf("%s imports %s: simulators are for tests and cmd/ only", dir, target)
			case under(dir, "internal/transport") && !under(target, "internal/transport") &&
				!under(target, "internal/raft") && target != "internal/wire":
				t.Errorf("%s imports %s: transports know raft message types, nothing above them", dir, target)
			case under(dir, "internal/node") && (under(target, "internal/wal") || under(target, "internal/kv") ||
				under(target, "internal/transport")):
				t.Errorf("%s imports %s: the node reaches storage, state machine and transport through interfaces it declares", dir, target)
			case under(dir, "internal/raft") && !under(target, "internal/raft"):
				t.Errorf("%s imports %s: the core depends on nothing of ours", dir, target)
			case under(dir, "internal/wire") && !under(target, "internal/raft"):
				t.Errorf("%s imports %s: the codec knows only the core's types", dir, target)
			}
		}
	}
}

// Only cmd/ may end the process: everything else returns errors.
func TestExitOnlyInCmd(t *testing.T) {
	root, _ := filepath.Abs("../..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || under(rel, "cmd")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok {
				name := x.Name + "." + sel.Sel.Name
				switch name {
				case "os.Exit", "log.Fatal", "log.Fatalf", "log.Fatalln", "log.Panic", "log.Panicf":
					t.Errorf("%s: %s outside cmd/ (at %s)", rel, name, fset.Position(sel.Pos()))
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
