module lepton/tokenize/hftokenizers

go 1.26.0

// The lepton module this backend plugs into: the repository two levels up.
replace lepton => ../..

require (
	github.com/daulet/tokenizers v1.24.0
	github.com/stretchr/testify v1.12.1
	lepton v0.0.0
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/text v0.44.0 // indirect
)
