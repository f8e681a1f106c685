package leptontest

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseCompare: any bytes either fail to parse with ErrFormat or give a
// golden file that compares with itself exactly and with a run of other
// outputs without panicking, and that writes and reads back unchanged.
func FuzzParseCompare(f *testing.F) {
	for _, name := range []string{"st-minilm.golden.json", "cross-encoder.golden.json", "distilbert.golden.json"} {
		if b, err := os.ReadFile(filepath.Join("..", "testdata", "golden", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"leptontest":1,"source":"lepton","model":{"labels":["a"]},"cases":[` +
		`{"kind":"classify","text":"x","label":"a","index":5,"probs":[1],"logits":[]},` +
		`{"kind":"rerank","query":"q","passages":["p"],"ranking":[{"index":3,"score":1,"logit":2},{"index":3,"score":1,"logit":2}]},` +
		`{"kind":"embed","text":"","vector":[0,0]}]}`))
	f.Add([]byte(`{"leptontest":1,"cases":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := parse(data, "fuzz")
		if err != nil {
			return
		}
		rep, err := Compare(g, g, Exact)
		if err != nil || !rep.OK() {
			t.Fatalf("a golden file differs from itself: %v %v", err, rep)
		}
		_ = rep.String()
		// Against the same inputs with other outputs: every field emptied.
		other := &Golden{Version: Version, Source: SourceLepton, Cases: inputCases(g.Inputs())}
		if rep, err := Compare(g, other, Tolerance{Logits: 1e-3, Cosine: 1e-3, LabelMargin: 0.5}); err == nil {
			_ = rep.String()
		}
		path := filepath.Join(t.TempDir(), "g.json")
		if err := g.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		back, err := Read(path)
		if err != nil {
			t.Fatalf("written file does not read back: %v", err)
		}
		if rep, err := Compare(g, back, Exact); err != nil || !rep.OK() {
			t.Fatalf("written file differs: %v %v", err, rep)
		}
	})
}
