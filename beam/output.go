package leptonbeam

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"path"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.Function1x2[Classified, string, error](classifiedJSON)
	register.Function1x2[Embedded, string, error](embeddedJSON)
	register.Function1x2[Tagged, string, error](taggedJSON)
	register.Function1x2[DeadLetter, string, error](deadLetterJSON)
	register.Function1x2[int, int, int](shardIndex)
	register.DoFn2x1[string, func(int, string), error](&shardFn{})
	register.DoFn4x1[context.Context, int, func(*int) bool, func(*string) bool, error](&writeShardFn{})
	register.Emitter2[int, string]()
	register.Iter1[int]()
	register.Iter1[string]()
}

// FormatJSON turns a PCollection of Classified, Embedded, Tagged or
// DeadLetter into one of JSON lines (without the newline). A result's
// fields after "id" and "text" are those of `lepton classify --json`,
// `lepton embed --json` or `lepton tag --json`, byte for byte ("unknown"
// rounded to 4 decimals as there; an entity's "index" only under
// aggregation none). A dead letter whose input is not valid UTF-8 carries it as
// "input_base64" instead of "input", so that no byte is lost.
func FormatJSON(s beam.Scope, col beam.PCollection) (beam.PCollection, error) {
	s = s.Scope("lepton.FormatJSON")
	switch col.Type().Type() {
	case reflect.TypeFor[Classified]():
		return beam.ParDo(s, classifiedJSON, col), nil
	case reflect.TypeFor[Embedded]():
		return beam.ParDo(s, embeddedJSON, col), nil
	case reflect.TypeFor[Tagged]():
		return beam.ParDo(s, taggedJSON, col), nil
	case reflect.TypeFor[DeadLetter]():
		return beam.ParDo(s, deadLetterJSON, col), nil
	}
	return beam.PCollection{}, fmt.Errorf("%w: FormatJSON takes Classified, Embedded, Tagged or DeadLetter, not %v", ErrInvalidConfig, col.Type())
}

// marshalLine encodes v as `lepton classify --json` does: no HTML escaping,
// no trailing newline.
func marshalLine(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

func classifiedJSON(c Classified) (string, error) {
	c.Unknown = round4(c.Unknown)
	return marshalLine(c)
}

func embeddedJSON(e Embedded) (string, error) {
	e.Unknown = round4(e.Unknown)
	return marshalLine(e)
}

// taggedLine and entityLine are a Tagged as `lepton tag --json` prints
// it: "entities" is [] when there are none, and "index" is there only for
// the tokens of aggregation none.
type taggedLine struct {
	ID       string       `json:"id,omitempty"`
	Text     string       `json:"text,omitempty"`
	Entities []entityLine `json:"entities"`
	Tokens   int          `json:"tokens"`
	Unknown  float64      `json:"unknown"`
}

type entityLine struct {
	Label     string  `json:"label"`
	Score     float32 `json:"score"`
	Start     int     `json:"start"`
	End       int     `json:"end"`
	CharStart int     `json:"char_start"`
	CharEnd   int     `json:"char_end"`
	Text      string  `json:"text"`
	Index     *int    `json:"index,omitempty"`
}

func taggedJSON(t Tagged) (string, error) {
	out := taggedLine{ID: t.ID, Text: t.Text, Entities: make([]entityLine, len(t.Entities)), Tokens: t.Tokens, Unknown: round4(t.Unknown)}
	for i, e := range t.Entities {
		out.Entities[i] = entityLine{Label: e.Label, Score: e.Score, Start: e.Start, End: e.End,
			CharStart: e.CharStart, CharEnd: e.CharEnd, Text: e.Text}
		if e.Index >= 0 {
			out.Entities[i].Index = &t.Entities[i].Index
		}
	}
	return marshalLine(out)
}

// round4 rounds a share to 4 decimals, as the CLI prints it.
func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// deadJSON is a DeadLetter as written: the input as a string when it is
// valid UTF-8, in base64 otherwise.
type deadJSON struct {
	ID          string  `json:"id,omitempty"`
	Input       *string `json:"input,omitempty"`
	InputBase64 string  `json:"input_base64,omitempty"`
	Reason      string  `json:"reason"`
	Error       string  `json:"error"`
}

func deadLetterJSON(d DeadLetter) (string, error) {
	out := deadJSON{ID: d.ID, Reason: d.Reason, Error: strings.ToValidUTF8(d.Error, "\uFFFD")}
	if utf8.ValidString(d.Input) {
		out.Input = &d.Input
	} else {
		out.InputBase64 = base64.StdEncoding.EncodeToString([]byte(d.Input))
	}
	if !utf8.ValidString(d.ID) { // an ID from a CSV column may be anything
		out.ID = "base64:" + base64.StdEncoding.EncodeToString([]byte(d.ID))
	}
	return marshalLine(out)
}

// WriteLines writes the strings of lines, one per line, to shards files on
// any Beam file system the program imports: to path itself when shards is
// 1, otherwise to path's name with -SSSSS-of-NNNNN before its extension
// (results.jsonl: results-00000-of-00004.jsonl, ...). Lines go to shards
// by a hash of their content, so a rerun writes the same files; every
// shard is written, empty or not. Line order is not the input's order.
func WriteLines(s beam.Scope, path string, shards int, lines beam.PCollection) error {
	if shards < 1 {
		return fmt.Errorf("%w: %d output shards: want at least 1", ErrInvalidConfig, shards)
	}
	if strings.TrimSpace(path) == "" {
		return fmt.Errorf("%w: empty output path", ErrInvalidConfig)
	}
	s = s.Scope("lepton.WriteLines")
	// Files hold every window's lines: group them in the global window.
	lines = beam.WindowInto(s, window.NewGlobalWindows(), lines)
	indexes := make([]any, shards)
	for i := range indexes {
		indexes[i] = i
	}
	// Every shard index is a key of its own, so that empty shards still
	// reach writeShardFn and become (empty) files.
	all := beam.ParDo(s, shardIndex, beam.Create(s, indexes...))
	keyed := beam.ParDo(s, &shardFn{N: shards}, lines)
	beam.ParDo0(s, &writeShardFn{Path: path, N: shards}, beam.CoGroupByKey(s, all, keyed))
	return nil
}

func shardIndex(i int) (int, int) { return i, i }

// ShardName is the file WriteLines writes shard i of n to.
func ShardName(p string, i, n int) string {
	if n == 1 {
		return p
	}
	ext := path.Ext(p)
	if strings.ContainsAny(ext, "/\\") {
		ext = ""
	}
	return fmt.Sprintf("%s-%05d-of-%05d%s", strings.TrimSuffix(p, ext), i, n, ext)
}

// shardFn keys each line by its shard.
type shardFn struct {
	N int `json:"n"`
}

func (f *shardFn) ProcessElement(line string, emit func(int, string)) error {
	h := fnv.New64a()
	h.Write([]byte(line))
	emit(int(h.Sum64()%uint64(f.N)), line)
	return nil
}

// writeShardFn writes one shard's lines to its file.
type writeShardFn struct {
	Path string `json:"path"`
	N    int    `json:"n"`
}

func (f *writeShardFn) ProcessElement(ctx context.Context, shard int, _ func(*int) bool, lines func(*string) bool) error {
	name := ShardName(f.Path, shard, f.N)
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return err
	}
	defer fs.Close()
	w, err := fs.OpenWrite(ctx, name)
	if err != nil {
		return err
	}
	buf := bufio.NewWriterSize(w, 1<<20)
	var line string
	for lines(&line) {
		buf.WriteString(line) // bufio's errors stick: WriteByte reports them
		if err := buf.WriteByte('\n'); err != nil {
			w.Close()
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	if err := buf.Flush(); err != nil {
		w.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return w.Close()
}
