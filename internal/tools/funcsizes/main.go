// Command funcsizes lists the largest functions and files (in lines) of
// the Go packages under the given directories, tests excluded: the
// before/after measure of a refactoring (scripts/funcsizes.sh runs it on
// any commit).
//
//	go run ./internal/tools/funcsizes [-n 10] [-root DIR] supervisor runtime cgroups
package main

import (
	"cmp"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

type size struct {
	name  string
	lines int
}

func main() {
	n := flag.Int("n", 10, "how many of each to list")
	root := flag.String("root", ".", "the tree the directories are in")
	flag.Parse()
	var funcs, files []size
	fset := token.NewFileSet()
	for _, dir := range flag.Args() {
		err := filepath.WalkDir(filepath.Join(*root, dir), func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(*root, path)
			files = append(files, size{rel, fset.File(f.Pos()).LineCount()})
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				name := fd.Name.Name
				if fd.Recv != nil && len(fd.Recv.List) > 0 {
					name = "(" + recvType(fd.Recv.List[0].Type) + ")." + name
				}
				lines := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
				funcs = append(funcs, size{filepath.Dir(rel) + "." + name, lines})
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "funcsizes:", err)
			os.Exit(1)
		}
	}
	show("functions", funcs, *n)
	show("files", files, *n)
}

func recvType(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return "*" + recvType(t.X)
	case *ast.IndexExpr:
		return recvType(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}

func show(what string, s []size, n int) {
	slices.SortStableFunc(s, func(a, b size) int { return cmp.Or(b.lines-a.lines, strings.Compare(a.name, b.name)) })
	fmt.Printf("%d largest %s (lines)\n", min(n, len(s)), what)
	for _, x := range s[:min(n, len(s))] {
		fmt.Printf("%6d  %s\n", x.lines, x.name)
	}
}
