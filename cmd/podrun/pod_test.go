package main

import (
	"reflect"
	"testing"
)

func TestExecTrailingFlags(t *testing.T) {
	for _, c := range []struct {
		in         []string
		ctr        string
		stdin, tty bool
		cmd        []string
	}{
		{in: []string{"--", "ls", "-l"}, cmd: []string{"ls", "-l"}},
		{in: []string{"ls", "-c", "x"}, cmd: []string{"ls", "-c", "x"}},
		{in: []string{"-c", "web", "-it", "--", "sh"}, ctr: "web", stdin: true, tty: true, cmd: []string{"sh"}},
		{in: []string{"--container=db", "-i", "cat"}, ctr: "db", stdin: true, cmd: []string{"cat"}},
		{in: []string{"-t", "--stdin", "--", "--", "x"}, stdin: true, tty: true, cmd: []string{"--", "x"}},
		{in: []string{"-c", "web"}, ctr: "web"},
	} {
		var ctr string
		var stdin, tty bool
		cmd, err := execTrailingFlags(c.in, &ctr, &stdin, &tty)
		if err != nil || ctr != c.ctr || stdin != c.stdin || tty != c.tty || !reflect.DeepEqual(cmd, c.cmd) {
			t.Errorf("%q: ctr %q stdin %v tty %v cmd %q err %v", c.in, ctr, stdin, tty, cmd, err)
		}
	}
	var ctr string
	var b1, b2 bool
	if _, err := execTrailingFlags([]string{"-c"}, &ctr, &b1, &b2); err == nil {
		t.Error("-c without a name: no error")
	}
}
