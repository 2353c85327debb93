package main

import (
	"strings"
	"testing"

	"github.com/mdp/qrterminal/v3"
)

const testOTPAuthURL = "otpauth://totp/Panguard:alice%40example.com?algorithm=SHA1&digits=6&issuer=Panguard&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// qrPixels reads a half-block QR code drawn with c back into modules, true for dark, one
// row per half line. It fails on any other character and on ragged lines.
func qrPixels(t *testing.T, drawn string, c qrChars) [][]bool {
	t.Helper()
	halves := map[string][2]bool{c.light: {false, false}, c.dark: {true, true}, c.lightDark: {false, true}, c.darkLight: {true, false}}
	var px [][]bool
	for n, line := range strings.Split(strings.TrimSuffix(drawn, "\n"), "\n") {
		var top, bottom []bool
		for _, r := range line {
			h, ok := halves[string(r)]
			if !ok {
				t.Fatalf("line %d holds %q, not a QR block character:\n%s", n, r, drawn)
			}
			top, bottom = append(top, h[0]), append(bottom, h[1])
		}
		if len(px) > 0 && len(top) != len(px[0]) {
			t.Fatalf("line %d is %d cells wide, line 0 %d:\n%s", n, len(top), len(px[0]), drawn)
		}
		px = append(px, top, bottom)
	}
	return px
}

// darkBounds is the smallest rectangle holding every dark module: the symbol itself, whose
// finder patterns fill three of its corners.
func darkBounds(px [][]bool) (top, left, bottom, right int) {
	top, left, bottom, right = len(px), len(px[0]), -1, -1
	for y, row := range px {
		for x, dark := range row {
			if dark {
				top, left, bottom, right = min(top, y), min(left, x), max(bottom, y), max(right, x)
			}
		}
	}
	return top, left, bottom, right
}

// symbol is the modules of the QR code of text, from qrterminal's plain one-character-a-
// module drawing: the reference the half-block drawings must match.
func symbol(t *testing.T, text string) [][]bool {
	t.Helper()
	var b strings.Builder
	qrterminal.GenerateWithConfig(text, qrterminal.Config{Level: qrterminal.L, Writer: &b, BlackChar: "#", WhiteChar: ".", QuietZone: 1})
	var px [][]bool
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var row []bool
		for _, r := range line {
			row = append(row, r == '#')
		}
		px = append(px, row)
	}
	top, left, bottom, right := darkBounds(px)
	var sym [][]bool
	for _, row := range px[top : bottom+1] {
		sym = append(sym, row[left:right+1])
	}
	return sym
}

func TestWriteQRDrawsTheCodeInBothPolaritiesWithAQuietZone(t *testing.T) {
	want := symbol(t, testOTPAuthURL)
	size := len(want)
	if size < 21 || (size-17)%4 != 0 {
		t.Fatalf("reference symbol is %d modules wide, not a QR code size", size)
	}
	// The finder pattern in the top-left corner: a dark ring, a light ring, a dark 3×3 core.
	for y := range 7 {
		for x := range 7 {
			ring := max(abs(y-3), abs(x-3))
			if wantDark := ring != 2; want[y][x] != wantDark {
				t.Fatalf("reference symbol has no finder pattern at (%d,%d)", x, y)
			}
		}
	}

	drawings := map[bool]string{}
	for _, invert := range []bool{false, true} {
		var b strings.Builder
		writeQR(&b, testOTPAuthURL, invert)
		drawn := b.String()
		drawings[invert] = drawn
		c := qrLightOnDark
		if invert {
			c = qrDarkOnLight
		}
		px := qrPixels(t, drawn, c)
		top, left, bottom, right := darkBounds(px)
		if bottom-top+1 != size || right-left+1 != size {
			t.Fatalf("invert=%v: the code is %d×%d modules, want %d×%d:\n%s", invert, right-left+1, bottom-top+1, size, size, drawn)
		}
		for y := range size {
			for x := range size {
				if px[top+y][left+x] != want[y][x] {
					t.Fatalf("invert=%v: module (%d,%d) differs from the QR code of the URL:\n%s", invert, x, y, drawn)
				}
			}
		}
		// Light all round (darkBounds holds every dark module): 4 modules on the left, top and
		// right, at least 4 below (the last half line rounds it up to 5).
		if left != qrQuietZone || top != qrQuietZone || len(px[0])-1-right != qrQuietZone || len(px)-1-bottom < qrQuietZone {
			t.Errorf("invert=%v: quiet zone left %d, top %d, right %d, bottom %d; want %d each:\n%s",
				invert, left, top, len(px[0])-1-right, len(px)-1-bottom, qrQuietZone, drawn)
		}
	}

	// The two polarities are one drawing with every module swapped.
	swapped := strings.NewReplacer("█", " ", " ", "█", "▀", "▄", "▄", "▀").Replace(drawings[false])
	if swapped != drawings[true] {
		t.Errorf("the inverted code is not the plain one with its blocks swapped:\n%s\n%s", drawings[false], drawings[true])
	}
	if !strings.Contains(drawings[false], "█") || strings.Contains(drawings[false], "\n    ") {
		t.Errorf("the plain code should draw its quiet zone in full blocks:\n%s", drawings[false])
	}
}

func abs(n int) int { return max(n, -n) }

func TestQRInvert(t *testing.T) {
	tests := []struct {
		name             string
		flagValue, given bool
		invertEnv, fgbg  string
		want             bool
	}{
		{name: "nothing set: light on dark"},
		{name: "--qr-invert", flagValue: true, given: true, want: true},
		{name: "--qr-invert=false beats a light COLORFGBG", given: true, fgbg: "0;15"},
		{name: "--qr-invert=false beats PANGUARD_QR_INVERT=1", given: true, invertEnv: "1"},
		{name: "PANGUARD_QR_INVERT=1", invertEnv: "1", want: true},
		{name: "PANGUARD_QR_INVERT=true", invertEnv: "true", want: true},
		{name: "PANGUARD_QR_INVERT=0 beats a light COLORFGBG", invertEnv: "0", fgbg: "0;15"},
		{name: "PANGUARD_QR_INVERT unreadable: COLORFGBG decides", invertEnv: "yes please", fgbg: "0;7", want: true},
		{name: "COLORFGBG white background", fgbg: "0;15", want: true},
		{name: "COLORFGBG light grey background", fgbg: "0;7", want: true},
		{name: "COLORFGBG rxvt form", fgbg: "0;default;15", want: true},
		{name: "COLORFGBG dark background", fgbg: "15;0"},
		{name: "COLORFGBG white text on grey-ish 8", fgbg: "15;8"},
		{name: "COLORFGBG defaults", fgbg: "default;default"},
		{name: "COLORFGBG without a background", fgbg: "15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"PANGUARD_QR_INVERT": tt.invertEnv, "COLORFGBG": tt.fgbg}
			if got := qrInvert(tt.flagValue, tt.given, func(k string) string { return env[k] }); got != tt.want {
				t.Errorf("qrInvert = %v, want %v", got, tt.want)
			}
		})
	}
}
