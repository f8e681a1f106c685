package clinic_test

import (
	"context"
	"fmt"
	"log"

	"lepton/models/clinic"
)

// The built-in model needs no file: open it, classify, close.
func ExampleOpen() {
	m, err := clinic.Open()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	res, err := m.Classify(context.Background(), []string{
		"My skin is covered in red, itchy patches with silvery scales on my elbows and knees",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res[0].Label, len(m.Info().Labels))
	// Output: Psoriasis 24
}
