package chat

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ardanlabs/jinja"
)

// Python's arithmetic for -, *, /, //, % and ** (rewrite.go routes them
// here): the engine divides by zero silently, floors -3//2 to -1, makes
// 2**10 a float and reads '%s' % x as a number.

var errZeroDivision = errors.New("ZeroDivisionError: division by zero")

// arith applies a numeric operator: intOp when both operands are ints
// (bools count as ints), floatOp otherwise; a nil op means "always float".
func arith(name string, args []jinja.Value, intOp func(a, b int64) (jinja.Value, error),
	floatOp func(a, b float64) (jinja.Value, error)) (jinja.Value, error) {
	if err := want2(name, args); err != nil {
		return jinja.Undefined(), err
	}
	a, b := args[0], args[1]
	if a.IsUndefined() || b.IsUndefined() {
		return jinja.Undefined(), undefinedError
	}
	ai, af, aFloat, aNum := pyNumber(a)
	bi, bf, bFloat, bNum := pyNumber(b)
	switch {
	case !aNum || !bNum:
		return jinja.Undefined(), fmt.Errorf("TypeError: unsupported operand type(s) for %s: '%s' and '%s'", name, pyType(a), pyType(b))
	case intOp != nil && !aFloat && !bFloat:
		return intOp(ai, bi)
	}
	return floatOp(af, bf)
}

func pySub(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	return arith("-", args,
		func(a, b int64) (jinja.Value, error) { return jinja.NewInt(a - b), nil },
		func(a, b float64) (jinja.Value, error) { return jinja.NewFloat(a - b), nil })
}

func pyMul(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if len(args) == 2 {
		seq, n := args[0], args[1]
		if n.IsString() || n.IsList() {
			seq, n = n, seq
		}
		if seq.IsString() || seq.IsList() {
			if !n.IsInt() && !n.IsBool() {
				return jinja.Undefined(), fmt.Errorf("TypeError: can't multiply sequence by non-int of type '%s'", pyType(n))
			}
			count, _, _, _ := pyNumber(n)
			count = max(count, 0)
			if seq.IsString() {
				return jinja.NewString(strings.Repeat(seq.AsString(), int(count))), nil
			}
			var items []jinja.Value
			for range count {
				items = append(items, seq.AsList().Items...)
			}
			return jinja.NewList(items), nil
		}
	}
	return arith("*", args,
		func(a, b int64) (jinja.Value, error) { return jinja.NewInt(a * b), nil },
		func(a, b float64) (jinja.Value, error) { return jinja.NewFloat(a * b), nil })
}

func pyDiv(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	return arith("/", args, nil, func(a, b float64) (jinja.Value, error) {
		if b == 0 {
			return jinja.Undefined(), errZeroDivision
		}
		return jinja.NewFloat(a / b), nil
	})
}

// floorMod returns Python's a // b and a % b for ints (b != 0): the
// quotient is floored, the remainder takes the divisor's sign.
func floorMod(a, b int64) (int64, int64) {
	q, r := a/b, a%b
	if r != 0 && (r < 0) != (b < 0) {
		q, r = q-1, r+b
	}
	return q, r
}

func pyFloorDiv(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	return arith("//", args,
		func(a, b int64) (jinja.Value, error) {
			if b == 0 {
				return jinja.Undefined(), errZeroDivision
			}
			q, _ := floorMod(a, b)
			return jinja.NewInt(q), nil
		},
		func(a, b float64) (jinja.Value, error) {
			if b == 0 {
				return jinja.Undefined(), errZeroDivision
			}
			return jinja.NewFloat(math.Floor(a / b)), nil
		})
}

func pyMod(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if len(args) == 2 && args[0].IsString() {
		s, err := pyFormat(args[0].AsString(), args[1])
		if err != nil {
			return jinja.Undefined(), err
		}
		return jinja.NewString(s), nil
	}
	return arith("%", args,
		func(a, b int64) (jinja.Value, error) {
			if b == 0 {
				return jinja.Undefined(), errors.New("ZeroDivisionError: integer modulo by zero")
			}
			_, r := floorMod(a, b)
			return jinja.NewInt(r), nil
		},
		func(a, b float64) (jinja.Value, error) {
			if b == 0 {
				return jinja.Undefined(), errors.New("ZeroDivisionError: float modulo")
			}
			r := math.Mod(a, b)
			if r != 0 && (r < 0) != (b < 0) {
				r += b
			}
			return jinja.NewFloat(r), nil
		})
}

func pyPow(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	return arith("**", args,
		func(a, b int64) (jinja.Value, error) {
			if b < 0 {
				return jinja.NewFloat(math.Pow(float64(a), float64(b))), nil
			}
			n := int64(1)
			for range b {
				n *= a
			}
			return jinja.NewInt(n), nil
		},
		func(a, b float64) (jinja.Value, error) { return jinja.NewFloat(math.Pow(a, b)), nil })
}

// pyFormat is Python's printf-style format % args: conversions s r a d i
// u x X o c e E f F g G and %%, with flags, width and precision. A list
// stands for Python's tuple of arguments (the engine has no tuples); a
// mapping serves %(name)s.
func pyFormat(format string, arg jinja.Value) (string, error) {
	var args []jinja.Value
	switch {
	case arg.IsList():
		args = arg.AsList().Items
	default:
		args = []jinja.Value{arg}
	}
	used := 0
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		j := i + 1
		var v jinja.Value
		named := false
		if j < len(format) && format[j] == '(' {
			end := strings.IndexByte(format[j:], ')')
			if end < 0 || !arg.IsDict() {
				return "", errors.New("TypeError: format requires a mapping")
			}
			var ok bool
			if v, ok = arg.AsDict().Get(format[j+1 : j+end]); !ok {
				return "", fmt.Errorf("KeyError: '%s'", format[j+1:j+end])
			}
			named, j = true, j+end+1
		}
		spec := j
		for j < len(format) && strings.IndexByte("#0- +", format[j]) >= 0 {
			j++
		}
		for j < len(format) && (format[j] >= '0' && format[j] <= '9' || format[j] == '.') {
			j++
		}
		if j == len(format) {
			return "", errors.New("ValueError: incomplete format")
		}
		conv := format[j]
		flags := format[spec:j]
		i = j
		if conv == '%' {
			b.WriteByte('%')
			continue
		}
		if !named {
			if used == len(args) {
				return "", errors.New("TypeError: not enough arguments for format string")
			}
			v, used = args[used], used+1
		}
		s, err := formatOne(flags, conv, v)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	if used < len(args) && !arg.IsDict() {
		return "", errors.New("TypeError: not all arguments converted during string formatting")
	}
	return b.String(), nil
}

// formatOne formats v for one %-conversion with Go's fmt, whose flags,
// width and precision mean what Python's do for these conversions.
func formatOne(flags string, conv byte, v jinja.Value) (string, error) {
	i, f, isFloat, isNum := pyNumber(v)
	switch conv {
	case 's', 'r', 'a':
		s := pyStr(v)
		if conv != 's' {
			s = pyRepr(v)
		}
		return fmt.Sprintf("%"+strings.ReplaceAll(flags, "0", "")+"s", s), nil
	case 'c':
		if v.IsString() && len([]rune(v.AsString())) == 1 {
			return v.AsString(), nil
		}
		if v.IsInt() {
			return string(rune(v.AsInt())), nil
		}
		return "", errors.New("TypeError: %c requires an int or a unicode character")
	}
	if !isNum {
		return "", fmt.Errorf("TypeError: %%%c format: a real number is required, not %s", conv, pyType(v))
	}
	switch conv {
	case 'd', 'i', 'u':
		if isFloat {
			i = int64(f)
		}
		return fmt.Sprintf("%"+flags+"d", i), nil
	case 'x', 'X', 'o':
		if isFloat {
			return "", fmt.Errorf("TypeError: %%%c format: an integer is required, not float", conv)
		}
		s := fmt.Sprintf("%"+flags+string(conv), i)
		if conv == 'o' && strings.Contains(flags, "#") {
			s = strings.Replace(s, "0", "0o", 1) // Go writes 0, Python 0o
		}
		return s, nil
	case 'e', 'E', 'f', 'F', 'g', 'G':
		if math.IsInf(f, 0) || math.IsNaN(f) {
			s := strconv.FormatFloat(f, 'g', -1, 64) // +Inf, -Inf, NaN
			s = strings.ToLower(strings.TrimPrefix(s, "+"))
			if conv >= 'A' && conv <= 'Z' {
				s = strings.ToUpper(s)
			}
			return fmt.Sprintf("%"+strings.ReplaceAll(flags, "0", "")+"s", s), nil
		}
		if !strings.Contains(flags, ".") {
			flags += ".6" // Python's default precision, also for g
		}
		return fmt.Sprintf("%"+flags+string(conv), f), nil
	}
	return "", fmt.Errorf("ValueError: unsupported format character '%c'", conv)
}
