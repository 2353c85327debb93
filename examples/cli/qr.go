package main

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mdp/qrterminal/v3"
)

// qrQuietZone is the width, in modules, of the light margin drawn around the QR code: the 4
// the QR standard asks for, without which decoders often find no code at all.
const qrQuietZone = 4

// qrChars are the characters of the half-block QR code, each cell two modules high: the
// light module above the light one, dark above dark, light above dark, dark above light.
type qrChars struct{ light, dark, lightDark, darkLight string }

// qrLightOnDark draws the light modules in the foreground colour, for the usual light text on
// a dark background; qrDarkOnLight draws the dark ones, for dark text on a light background.
// Each is the other with every module swapped.
var (
	qrLightOnDark = qrChars{light: "█", dark: " ", lightDark: "▀", darkLight: "▄"}
	qrDarkOnLight = qrChars{light: " ", dark: "█", lightDark: "▄", darkLight: "▀"}
)

// writeQR draws text as a QR code in half blocks, framed by a quiet zone of qrQuietZone light
// modules on every side. invert draws it for a terminal with a light background (see
// qrDarkOnLight); there the light modules and the quiet zone are the background itself.
func writeQR(w io.Writer, text string, invert bool) {
	c := qrLightOnDark
	if invert {
		c = qrDarkOnLight
	}
	var b strings.Builder
	qrterminal.GenerateWithConfig(text, qrterminal.Config{
		Level: qrterminal.L, Writer: &b, HalfBlocks: true, QuietZone: qrQuietZone,
		WhiteChar: c.light, BlackChar: c.dark, WhiteBlackChar: c.lightDark, BlackWhiteChar: c.darkLight,
	})
	lines := strings.SplitAfter(b.String(), "\n")
	for i, l := range lines {
		// qrterminal ends the quiet zone on a line whose lower half is "dark", below the
		// margin: nothing on a dark background, but a dark bar on a light one. Draw it light.
		if body := strings.TrimSuffix(l, "\n"); body != "" && strings.Trim(body, c.lightDark) == "" {
			lines[i] = strings.Repeat(c.light, utf8.RuneCountInString(body)) + "\n"
		}
	}
	io.WriteString(w, strings.Join(lines, ""))
}

// qrInvert reports whether to draw the QR code for a light background: as --qr-invert says
// when it was given, else as PANGUARD_QR_INVERT says (1 or 0, true or false), else when
// COLORFGBG (set by some terminals, "FG;BG" or "FG;default;BG") names a light background
// colour (7, light grey, or 15, white).
func qrInvert(flagValue, flagGiven bool, env func(string) string) bool {
	if flagGiven {
		return flagValue
	}
	if v, err := strconv.ParseBool(strings.TrimSpace(env("PANGUARD_QR_INVERT"))); err == nil {
		return v
	}
	fgbg := env("COLORFGBG")
	bg := fgbg[strings.LastIndex(fgbg, ";")+1:]
	return strings.Contains(fgbg, ";") && (bg == "7" || bg == "15")
}
