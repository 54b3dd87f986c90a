package userfile

// CheckYAMLDepth reports whether YAML text nests flow collections ([...]
// and {...}) more than MaxDepth deep, before a YAML parser sees it: the
// go-yaml scanner checks every open flow level on every token, so a few MiB
// of "[[[[..." cost it tens of seconds and hundreds of MiB although it stops
// at 10000 levels. Block nesting (by indentation) is cheap to parse; check
// it on the JSON the YAML becomes (CheckDepth).
//
// It is a single pass that allocates nothing. Inside a flow collection it
// tokenizes as YAML does (quoted scalars, plain scalars, tags, anchors,
// comments). In block context a flow collection starts only where a node
// starts (line start, after "- ", "? ", ": ", "--- ", a tag or an anchor);
// the content lines of a block scalar ("|", ">") are skipped; a quoted
// scalar is taken to end at the end of its line at the latest. Where it
// cannot tell, it counts a bracket rather than skip it, so a document it
// passes cannot nest deeper than the limit.
func CheckYAMLDepth(data []byte) error {
	n := len(data)
	i := 0
	for i < n {
		// One line in block context.
		ls := i
		for i < n && data[i] == ' ' {
			i++
		}
		if i < n && i == ls && data[i] == '%' { // a directive
			i = lineEnd(data, i)
			continue
		}
		if i == ls && i+3 <= n && (string(data[i:i+3]) == "---" || string(data[i:i+3]) == "...") && (i+3 == n || blankOrBreak(data[i+3])) {
			i += 3
		}
		var err error
		if i, err = blockLine(data, ls, i); err != nil {
			return err
		}
	}
	return nil
}

// blockLine scans the rest of the line starting at ls from i (a token
// start), entering flow collections, and returns where the next line starts.
func blockLine(data []byte, ls, i int) (int, error) {
	n := len(data)
	for i < n && data[i] != '\n' {
		c := data[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			return skipLine(data, i), nil
		case (c == '-' || c == '?' || c == ':') && (i+1 == n || blankOrBreak(data[i+1])):
			i++
		case c == '[' || c == '{':
			end, err := flow(data, i)
			if err != nil {
				return 0, err
			}
			if end >= n {
				return n, nil
			}
			// The collection may have ended on a later line.
			for j := end - 1; j >= i; j-- {
				if data[j] == '\n' {
					ls = j + 1
					break
				}
			}
			i = end
		case c == '\'' || c == '"':
			i = quoted(data, i, true)
		case c == '!' || c == '&' || c == '*':
			for i < n && !blankOrBreak(data[i]) {
				i++
			}
		case c == '|' || c == '>':
			return skipBlockScalar(data, ls, i), nil
		default:
			// A plain scalar: to ": ", " #" or the end of the line.
			for i < n && data[i] != '\n' {
				if data[i] == ':' && (i+1 == n || blankOrBreak(data[i+1])) {
					break
				}
				if data[i] == '#' && i > 0 && (data[i-1] == ' ' || data[i-1] == '\t') {
					return skipLine(data, i), nil
				}
				i++
			}
		}
	}
	if i < n {
		i++ // the '\n'
	}
	return i, nil
}

// flow scans the flow collection opening at i and returns the index after
// its closing bracket (len(data) if it never closes).
func flow(data []byte, i int) (int, error) {
	n := len(data)
	depth := 0
	for i < n {
		c := data[i]
		switch {
		case blankOrBreak(c) || c == ',' || c == ':' || c == '?':
			i++
		case c == '#':
			i = lineEnd(data, i)
		case c == '[' || c == '{':
			if depth++; depth > MaxDepth {
				return 0, ErrTooDeep
			}
			i++
		case c == ']' || c == '}':
			i++
			if depth--; depth == 0 {
				return i, nil
			}
		case c == '\'' || c == '"':
			i = quoted(data, i, false)
		case c == '!':
			// A tag ends at a blank only: it may hold brackets.
			for i < n && !blankOrBreak(data[i]) {
				i++
			}
		case c == '&' || c == '*':
			for i++; i < n && anchorChar(data[i]); i++ {
			}
		default:
			// A plain scalar, over blanks and lines, to a flow indicator,
			// ": " or " #".
			for i < n {
				d := data[i]
				if d == ',' || d == '[' || d == ']' || d == '{' || d == '}' {
					break
				}
				if d == ':' && (i+1 == n || blankOrBreak(data[i+1]) || flowIndicator(data[i+1])) {
					break
				}
				if d == '#' && blankOrBreak(data[i-1]) {
					break
				}
				i++
			}
		}
	}
	return n, nil
}

// quoted returns the index after the quoted scalar opening at i; in block
// context (oneLine) it ends at the end of its line at the latest.
func quoted(data []byte, i int, oneLine bool) int {
	n := len(data)
	q := data[i]
	for i++; i < n; i++ {
		switch c := data[i]; {
		case c == '\n' && oneLine:
			return i
		case q == '"' && c == '\\':
			if i+1 < n && data[i+1] == '\n' && oneLine {
				return i + 1
			}
			i++
		case c == q:
			if q == '\'' && i+1 < n && data[i+1] == '\'' {
				i++ // '' is a quote inside
				continue
			}
			return i + 1
		}
	}
	return n
}

// skipBlockScalar skips the content of the block scalar whose indicator is
// on the line starting at ls, and returns where the next line to scan
// starts. The content is the lines after it indented as much as the first
// non-blank one, which must be indented more than the node holding the
// scalar; that node is taken to start at the first column after the line's
// indentation and "- " / "? " / ": " indicators, which is never left of it.
func skipBlockScalar(data []byte, ls, i int) int {
	n := len(data)
	node := ls
	for node < n {
		c := data[node]
		if c == ' ' {
			node++
			continue
		}
		if (c == '-' || c == '?' || c == ':') && node+1 < n && blankOrBreak(data[node+1]) {
			node++
			continue
		}
		break
	}
	parent := node - ls
	i = skipLine(data, i)
	content := -1
	for i < n {
		ind, blank := indent(data, i)
		if !blank {
			if content < 0 {
				if ind <= parent {
					return i
				}
				content = ind
			} else if ind < content {
				return i
			}
		}
		i = skipLine(data, i)
	}
	return n
}

// indent returns the number of leading spaces of the line at i and whether
// it holds nothing but blanks.
func indent(data []byte, i int) (int, bool) {
	j := i
	for j < len(data) && data[j] == ' ' {
		j++
	}
	k := j
	for k < len(data) && (data[k] == ' ' || data[k] == '\t' || data[k] == '\r') {
		k++
	}
	return j - i, k == len(data) || data[k] == '\n'
}

func lineEnd(data []byte, i int) int {
	for i < len(data) && data[i] != '\n' {
		i++
	}
	return i
}

func skipLine(data []byte, i int) int {
	if i = lineEnd(data, i); i < len(data) {
		i++
	}
	return i
}

func blankOrBreak(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func flowIndicator(c byte) bool {
	return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'
}

func anchorChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
