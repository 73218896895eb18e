package decode

const hexLower = "0123456789abcdef"
const hexUpper = "0123456789ABCDEF"

// appendHex appends v in hex, zero-padded to at least width digits.
func appendHex(b []byte, v uint64, width int, upper bool) []byte {
	digits := hexLower
	if upper {
		digits = hexUpper
	}
	var tmp [16]byte
	i := len(tmp)
	for v != 0 || i == len(tmp) || len(tmp)-i < width {
		i--
		tmp[i] = digits[v&0xf]
		v >>= 4
	}
	return append(b, tmp[i:]...)
}

// appendHexBytes appends each byte as two upper-case hex digits, as the
// kernel prints IP and TCP options.
func appendHexBytes(b, p []byte) []byte {
	for _, c := range p {
		b = append(b, hexUpper[c>>4], hexUpper[c&0xf])
	}
	return b
}

// appendMAC appends p as hex bytes joined by sep.
func appendMAC(b, p []byte, sep byte, upper bool) []byte {
	digits := hexLower
	if upper {
		digits = hexUpper
	}
	for i, c := range p {
		if i > 0 {
			b = append(b, sep)
		}
		b = append(b, digits[c>>4], digits[c&0xf])
	}
	return b
}

// appendIPv4 appends a 4-byte address in dotted-quad form.
func appendIPv4(b, a []byte) []byte {
	for i, c := range a[:4] {
		if i > 0 {
			b = append(b, '.')
		}
		b = appendUint(b, uint64(c))
	}
	return b
}

// appendIPv6Full appends a 16-byte address the way the kernel's %pI6 does:
// eight groups of four lower-case hex digits, never compressed.
func appendIPv6Full(b, a []byte) []byte {
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexLower[a[i]>>4], hexLower[a[i]&0xf], hexLower[a[i+1]>>4], hexLower[a[i+1]&0xf])
	}
	return b
}
