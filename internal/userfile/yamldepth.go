package userfile

// CheckYAMLDepth reports whether YAML text nests flow collections ([...]
// and {...}) more than MaxDepth deep, before a YAML parser sees it: the
// go-yaml scanner checks every open flow level on every token, so a few MiB
// of "[[[[..." cost it tens of seconds and hundreds of MiB although it stops
// at 10000 levels. Block nesting (by indentation) is cheap to parse; check
// it on the JSON the YAML becomes (CheckDepth).
//
// It is a single pass that allocates nothing. Inside a flow collection it
// tokenizes as YAML does (quoted and plain scalars, tags, anchors,
// comments). In block context a flow collection starts only where a node
// starts (line start, after "- ", "? ", ": ", "--- ", a tag or an anchor);
// the content lines of a block scalar ("|", ">") and the continuation
// lines of a plain scalar are skipped, by the indentation of the node
// holding them as YAML does. Where it cannot know that indentation (a
// scalar alone on its line) and a line may be text to YAML but structure
// to it, it stops tokenizing at the first bracket or unclosed quote of
// such a line and counts every '[' and '{' after it as a level. So a
// document it passes cannot nest deeper than the limit.
func CheckYAMLDepth(data []byte) error {
	s := yamlScanner{data: data, ambig: none, prev: -1, open: none}
	return s.run()
}

const none = -2

type yamlScanner struct {
	data []byte
	// ambig: lines indented more than this continue a scalar of a line
	// before (none: no line does). exact: ambig is the indentation of the
	// node holding the scalar, so such a line is the scalar's text; else
	// it is a lower bound and the line may be text or structure.
	ambig int
	exact bool
	// prev is the indentation of the last line scanned; open, the column of
	// the node it left open for the next lines ("key:", "-"), or none.
	prev, open int
}

func (s *yamlScanner) run() error {
	data, n := s.data, len(s.data)
	i := 0
	for i < n {
		ls := i
		ind, blank := indent(data, i)
		if blank {
			i = skipLine(data, i)
			continue
		}
		amb := s.ambig != none && ind > s.ambig
		if !amb {
			s.ambig = none
		}
		i += ind
		switch {
		case amb && s.exact, // a plain scalar's next line: text
			data[i] == '#',             // a comment
			ind == 0 && data[i] == '%': // a directive
			i = skipLine(data, i)
			continue
		}
		if ind == 0 && i+3 <= n && (string(data[i:i+3]) == "---" || string(data[i:i+3]) == "...") && (i+3 == n || blankOrBreak(data[i+3])) {
			i += 3
		}
		var err error
		if i, err = s.line(ls, i, amb); err != nil {
			return err
		}
	}
	return nil
}

// paranoid is the fallback where the scanner cannot tell text from
// structure: every '[' and '{' from i on is taken for a level.
func (s *yamlScanner) paranoid(i int) error {
	depth := 0
	for _, c := range s.data[i:] {
		if c == '[' || c == '{' {
			if depth++; depth > MaxDepth {
				return ErrTooDeep
			}
		}
	}
	return nil
}

// holder returns the indentation of the block collection holding a node
// on the line: node, the column of the line's innermost key or "-"/"?"
// indicator, else the node the line before left open; exact is false when
// neither is known and the result is only a lower bound.
func (s *yamlScanner) holder(node int) (int, bool) {
	switch {
	case node >= 0:
		return node, true
	case s.open != none:
		return s.open, true
	}
	return s.prev, false
}

// markAmbiguous records that the lines indented more than indent may be a
// scalar's text.
func (s *yamlScanner) markAmbiguous(indent int, exact bool) {
	if s.ambig == none || indent < s.ambig {
		s.ambig = indent
		s.exact = exact
	} else if indent == s.ambig {
		s.exact = s.exact && exact
	}
}

// line scans the line starting at ls in block context from i (a token
// start), entering flow collections, and returns where the next line
// starts. amb: the line may be a scalar's text, not structure.
func (s *yamlScanner) line(ls, i int, amb bool) (int, error) {
	data, n := s.data, len(s.data)
	node := -1     // column of the line's innermost key or "-"/"?" indicator
	tokStart := -1 // column of the last scalar, a key if ": " follows
	opener := false
	done := func(next int) (int, error) {
		s.prev = indentAt(data, ls)
		s.open = none
		if opener {
			s.open = node
		}
		return next, nil
	}
	for i < n && data[i] != '\n' {
		c := data[i]
		if c != ' ' && c != '\t' && c != '\r' && c != '#' {
			opener = false
		}
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			return done(skipLine(data, i))
		case (c == '-' || c == '?') && (i+1 == n || blankOrBreak(data[i+1])):
			node, opener = i-ls, true
			i++
		case c == ':' && (i+1 == n || blankOrBreak(data[i+1])):
			node, opener = i-ls, true // an explicit ": value"
			if tokStart >= 0 {
				node = tokStart // the key's
			}
			i++
		case c == '[' || c == '{':
			if amb {
				return n, s.paranoid(i)
			}
			end, err := flow(data, i)
			if err != nil || end >= n {
				return n, err
			}
			tokStart = s.tokenOn(&ls, i, end)
			i = end
		case c == '\'' || c == '"':
			end, closed := quoted(data, i, false)
			if !closed || (amb && lineOf(data, i, end) != ls) {
				// Over lines that may not be its text to YAML.
				return n, s.paranoid(i)
			}
			tokStart = s.tokenOn(&ls, i, end)
			i = end
		case c == '!' || c == '&' || c == '*':
			for i < n && !blankOrBreak(data[i]) {
				i++
			}
			opener = c != '*'
		case c == '|' || c == '>':
			return done(s.blockScalar(i, node, indentAt(data, ls)))
		default:
			// A plain scalar: to ": ", " #" or the end of the line.
			tokStart = i - ls
			for i < n && data[i] != '\n' {
				if data[i] == ':' && (i+1 == n || blankOrBreak(data[i+1])) {
					break
				}
				if data[i] == '#' && (data[i-1] == ' ' || data[i-1] == '\t') {
					return done(skipLine(data, i))
				}
				i++
			}
			if i == n || data[i] == '\n' {
				// It goes on over the lines indented more than the
				// collection holding it.
				s.markAmbiguous(s.holder(node))
			}
		}
	}
	if i < n {
		i++ // the '\n'
	}
	return done(i)
}

// tokenOn moves *ls to the line a token from i to end ends on, and returns
// the token's column, or -1 when it took several lines (it cannot be a key).
func (s *yamlScanner) tokenOn(ls *int, i, end int) int {
	if l := lineOf(s.data, i, end); l != *ls {
		*ls = l
		return -1
	}
	return i - *ls
}

// lineOf returns the start of the line holding end-1, a token that began
// at i.
func lineOf(data []byte, i, end int) int {
	for j := end - 1; j >= i; j-- {
		if data[j] == '\n' {
			return j + 1
		}
	}
	for i > 0 && data[i-1] != '\n' {
		i--
	}
	return i
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
			i, _ = quoted(data, i, false)
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

// quoted returns the index after the quoted scalar opening at i and
// whether it closed; in block context (oneLine) it ends at the end of its
// line at the latest.
func quoted(data []byte, i int, oneLine bool) (int, bool) {
	n := len(data)
	q := data[i]
	for i++; i < n; i++ {
		switch c := data[i]; {
		case c == '\n' && oneLine:
			return i, false
		case q == '"' && c == '\\':
			i++
			if i < n && data[i] == '\n' && oneLine {
				return i, false
			}
		case c == q:
			if q == '\'' && i+1 < n && data[i+1] == '\'' {
				i++ // '' is a quote inside
				continue
			}
			return i + 1, true
		}
	}
	return n, false
}

// blockScalar skips the content of the block scalar whose indicator is at
// i, held by the node at column node (-1: none on the line, which is
// indented ind), and returns where the next line to scan starts. The
// content is the lines indented more than the collection holding the node,
// as much as the first non-blank one or as the explicit indentation says.
// When that collection's indentation is not known, it skips the lines
// indented more than the node (an upper bound of it), and the lines
// indented more than a lower bound are ambiguous.
func (s *yamlScanner) blockScalar(i, node, ind int) int {
	data, n := s.data, len(s.data)
	parent, exact := s.holder(node)
	lower := parent
	if !exact {
		parent = ind - 1
	}
	step := 0
	for j := i + 1; j < n && !blankOrBreak(data[j]) && data[j] != '#'; j++ {
		if data[j] >= '1' && data[j] <= '9' {
			step = int(data[j] - '0')
		}
	}
	i = skipLine(data, i)
	content := -1
	if step > 0 && exact {
		content = max(parent, 0) + step
	}
	for i < n {
		ind, blank := indent(data, i)
		if !blank {
			if content < 0 {
				if ind <= parent {
					break
				}
				content = ind
			}
			if ind < content {
				break
			}
		}
		i = skipLine(data, i)
	}
	if !exact || step > 0 {
		s.markAmbiguous(lower, false)
	}
	return i
}

func indentAt(data []byte, i int) int {
	ind, _ := indent(data, i)
	return ind
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
