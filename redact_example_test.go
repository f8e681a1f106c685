package lepton_test

import (
	"fmt"

	"lepton"
)

func ExampleRedact() {
	note := "Seen by Dr Ann Lee on 12/03/2024.\nCall 0113 496 0000."
	// Entities as Tag returns them: byte offsets into note.
	ents := []lepton.Entity{
		{Label: "NAME", Start: 11, End: 18},
		{Label: "DATE", Start: 22, End: 32},
		{Label: "PHONE", Start: 39, End: 52},
	}
	fmt.Println(lepton.Redact(note, ents, func(e lepton.Entity) string { return "[" + e.Label + "]" }))
	fmt.Println(lepton.Redact(note, ents, lepton.MaskRunes('*')))
	// Output:
	// Seen by Dr [NAME] on [DATE].
	// Call [PHONE].
	// Seen by Dr ******* on **********.
	// Call *************.
}

func ExampleFindPatterns() {
	note := "DOB 02/02/1934, BP 145/92, Co-codamol 30/500. Tel 07187 104231, plewis22@post.example.net, MRN 50234703."
	for _, e := range lepton.FindPatterns(note) {
		fmt.Printf("%s %q\n", e.Label, e.Text)
	}
	// Output:
	// DATE "02/02/1934"
	// PHONE "07187 104231"
	// EMAIL "plewis22@post.example.net"
	// ID "50234703"
}
