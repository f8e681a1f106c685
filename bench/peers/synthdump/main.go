// Command synthdump writes one of Lepton's synthetic random-weight encoders
// (internal/synth) as a Hugging Face BertModel checkpoint, so the peer
// benchmark can export the very same float weights to ONNX:
//
//	go run ./bench/peers/synthdump -preset minilm -out bench/peers/models/minilm/hf
//
// It is a benchmark tool, not part of the library.
package main

import (
	"flag"
	"fmt"
	"os"

	"lepton/internal/synth"
)

func main() {
	preset := flag.String("preset", "minilm", "synthetic model shape: minilm, base or tiny")
	out := flag.String("out", "", "output directory (created)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "synthdump: -out is required")
		os.Exit(2)
	}
	spec, err := synth.Lookup(*preset)
	if err == nil {
		err = synth.WriteCheckpoint(spec, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "synthdump:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s checkpoint to %s\n", spec.Name, *out)
}
