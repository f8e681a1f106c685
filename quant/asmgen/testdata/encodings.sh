#!/usr/bin/env bash
# Regenerates testdata/encodings.txt: the machine code LLVM's assembler
# (llvm-mc, an independent reference) gives for every instruction asmgen
# WORD-encodes by hand, with a few register choices each. TestEncodings
# checks the generator's helpers against it.
#   cd quant/asmgen && bash testdata/encodings.sh > testdata/encodings.txt
set -euo pipefail
# helper, its arguments, and the same instruction in LLVM syntax.
while read -r helper args asm; do
  [ -n "$helper" ] || continue
  enc=$(echo "$asm" | llvm-mc -triple=aarch64 -mattr=+dotprod,+i8mm -show-encoding |
    sed -n 's/.*encoding: \[0x\(..\),0x\(..\),0x\(..\),0x\(..\)\].*/0x\4\3\2\1/p')
  [ -n "$enc" ] || { echo "llvm-mc failed on: $asm" >&2; exit 1; }
  printf '%s\t%s\t%s\t# %s\n' "$helper" "$args" "$enc" "$asm"
done <<'TABLE'
smmla 0,24,20 smmla v0.4s, v24.16b, v20.16b
smmla 15,27,23 smmla v15.4s, v27.16b, v23.16b
smmla 31,1,2 smmla v31.4s, v1.16b, v2.16b
sdotElem 0,16,20 sdot v0.4s, v16.16b, v20.16b
sdotElem 15,19,23 sdot v15.4s, v19.16b, v23.16b
fmul4s 21,20,16 fmul v21.4s, v20.4s, v16.4s
fmul4s 0,31,7 fmul v0.4s, v31.4s, v7.4s
fadd4s 24,24,18 fadd v24.4s, v24.4s, v18.4s
fadd4s 3,30,29 fadd v3.4s, v30.4s, v29.4s
fmla4s 0,16,20 fmla v0.4s, v16.4s, v20.4s
fmla4s 15,19,23 fmla v15.4s, v19.4s, v23.4s
fmls4s 26,25,6 fmls v26.4s, v25.4s, v6.4s
fmls4s 30,29,7 fmls v30.4s, v29.4s, v7.4s
orr16b 26,20 mov v26.16b, v20.16b
orr16b 27,14 mov v27.16b, v14.16b
fabs4s 3,2 fabs v3.4s, v2.4s
fabs4s 9,8 fabs v9.4s, v8.4s
fdiv4s 6,18,5 fdiv v6.4s, v18.4s, v5.4s
fdiv4s 12,18,11 fdiv v12.4s, v18.4s, v11.4s
fcmlt04s 2,2 fcmlt v2.4s, v2.4s, #0.0
fcmlt04s 8,8 fcmlt v8.4s, v8.4s, #0.0
fmaxnm4s 0,0,4 fmaxnm v0.4s, v0.4s, v4.4s
fmaxnm4s 2,2,3 fmaxnm v2.4s, v2.4s, v3.4s
fmaxnmv4s 0,0 fmaxnmv s0, v0.4s
fmin4s 2,2,17 fmin v2.4s, v2.4s, v17.4s
fmax4s 3,3,18 fmax v3.4s, v3.4s, v18.4s
sqxtn4h 4,0 sqxtn v4.4h, v0.4s
sqxtn28h 4,1 sqxtn2 v4.8h, v1.4s
sqxtn8b 6,4 sqxtn v6.8b, v4.8h
sqxtn216b 6,5 sqxtn2 v6.16b, v5.8h
scvtf4s 24,24 scvtf v24.4s, v24.4s
scvtf4s 1,30 scvtf v1.4s, v30.4s
fsub4s 1,2,3 fsub v1.4s, v2.4s, v3.4s
frintn4s 4,5 frintn v4.4s, v5.4s
fcvtzs4s 6,7 fcvtzs v6.4s, v7.4s
fcmgt4s 8,9,10 fcmgt v8.4s, v9.4s, v10.4s
add4s 11,12,13 add v11.4s, v12.4s, v13.4s
shl4s 14,15,23 shl v14.4s, v15.4s, #23
shl4s 1,2,0 shl v1.4s, v2.4s, #0
bit16b 16,17,18 bit v16.16b, v17.16b, v18.16b
bic16b 19,20,21 bic v19.16b, v20.16b, v21.16b
dup4s 22,3 dup v22.4s, w3
smull8b 24,16,20 smull v24.8h, v16.8b, v20.8b
smull16b 25,19,21 smull2 v25.8h, v19.16b, v21.16b
sadalp8h 7,24 sadalp v7.4s, v24.8h
addp4s 0,8,9 addp v0.4s, v8.4s, v9.4s
TABLE
