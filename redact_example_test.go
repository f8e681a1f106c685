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
