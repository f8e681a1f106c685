module lepton/quant/asmgen

go 1.26.0
