package format

import (
	"fmt"
	"math/big"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Protobuf has no DATE or DECIMAL scalar; sluice uses the types the
// Confluent serializers use (their Schema Registry knows both files, so a
// schema importing them registers without references):
//
//   - DATE is google.type.Date {year, month, day};
//   - DECIMAL is confluent.type.Decimal {bytes value; uint32 precision;
//     int32 scale}, value the unscaled integer in big-endian two's
//     complement, as Avro's decimal. A column inferred from it is
//     DECIMAL(38, 9), since the schema does not carry a precision and
//     scale (declare the column to choose them); each message's value is
//     rescaled to the column's scale, and one that would lose digits is a
//     bad value.
//
// The decoder knows both files without the registry holding them.

const (
	protoDateName    = "google.type.Date"
	protoDecimalName = "confluent.type.Decimal"
	protoDateFile    = "google/type/date.proto"
	protoDecimalFile = "confluent/type/decimal.proto"
)

// protoTypeFiles are the .proto texts of the logical types, as published
// by Google (googleapis) and Confluent.
var protoTypeFiles = map[string]string{
	protoDateFile: `syntax = "proto3";
package google.type;
message Date {
  int32 year = 1;
  int32 month = 2;
  int32 day = 3;
}
`,
	protoDecimalFile: `syntax = "proto3";
package confluent.type;
message Decimal {
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
`,
}

// InferredProtoDecimal is the column type of a confluent.type.Decimal
// field when the columns are inferred.
var InferredProtoDecimal = &arrow.Decimal128Type{Precision: 38, Scale: 9}

// isProtoMessage reports whether fd is a (non-repeated) field of message
// type name.
func isProtoMessage(fd protoreflect.FieldDescriptor, name string) bool {
	k := fd.Kind()
	return (k == protoreflect.MessageKind || k == protoreflect.GroupKind) && !fd.IsList() && !fd.IsMap() &&
		string(fd.Message().FullName()) == name
}

// appendProtoDate appends days since the epoch as a google.type.Date
// message field num.
func appendProtoDate(dst []byte, num protowire.Number, days arrow.Date32) []byte {
	t := time.Unix(int64(days)*86400, 0).UTC()
	var m []byte
	for i, v := range []int{t.Year(), int(t.Month()), t.Day()} {
		if v != 0 {
			m = protowire.AppendTag(m, protowire.Number(i+1), protowire.VarintType)
			m = protowire.AppendVarint(m, uint64(int64(v)))
		}
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, m)
}

// appendProtoDecimal appends an unscaled value of type t as a
// confluent.type.Decimal message field num.
func appendProtoDecimal(dst []byte, num protowire.Number, v decimal128.Num, t *arrow.Decimal128Type) []byte {
	var m []byte
	if b := twosComplement(v.BigInt()); len(b) > 0 {
		m = protowire.AppendTag(m, 1, protowire.BytesType)
		m = protowire.AppendBytes(m, b)
	}
	m = protowire.AppendTag(m, 2, protowire.VarintType)
	m = protowire.AppendVarint(m, uint64(t.Precision))
	if t.Scale != 0 {
		m = protowire.AppendTag(m, 3, protowire.VarintType)
		m = protowire.AppendVarint(m, uint64(int64(t.Scale)))
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, m)
}

// twosComplement is n in the fewest big-endian two's complement bytes
// (none for zero).
func twosComplement(n *big.Int) []byte {
	if n.Sign() == 0 {
		return nil
	}
	if n.Sign() > 0 {
		b := n.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n - 1 in bytes, inverted, with a leading 0xff when needed.
	m := new(big.Int).Sub(new(big.Int).Neg(n), big.NewInt(1)).Bytes()
	b := make([]byte, len(m))
	for i := range m {
		b[i] = ^m[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// fromTwosComplement reads big-endian two's complement bytes.
func fromTwosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return n
}

// protoDateValue reads a google.type.Date message as days since the
// epoch; a date without a year, month or day does not fit a DATE.
func protoDateValue(m protoreflect.Message) (arrow.Date32, error) {
	fs := m.Descriptor().Fields()
	y, mo, d := m.Get(fs.ByName("year")).Int(), m.Get(fs.ByName("month")).Int(), m.Get(fs.ByName("day")).Int()
	if y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return 0, fmt.Errorf("google.type.Date %d-%d-%d is not a whole date", y, mo, d)
	}
	t := time.Date(int(y), time.Month(mo), int(d), 0, 0, 0, 0, time.UTC)
	if t.Day() != int(d) {
		return 0, fmt.Errorf("google.type.Date %d-%d-%d is not a date", y, mo, d)
	}
	return arrow.Date32FromTime(t), nil
}

// protoDecimalValue reads a confluent.type.Decimal message as a value of
// type t, rescaled to its scale.
func protoDecimalValue(m protoreflect.Message, t *arrow.Decimal128Type) (decimal128.Num, error) {
	fs := m.Descriptor().Fields()
	scale := int32(m.Get(fs.ByName("scale")).Int())
	n := fromTwosComplement(m.Get(fs.ByName("value")).Bytes())
	tooBig := fmt.Errorf("confluent.type.Decimal %s (scale %d) does not fit DECIMAL(%d, %d)", n, scale, t.Precision, t.Scale)
	if n.BitLen() > 127 {
		return decimal128.Num{}, tooBig
	}
	v := decimal128.FromBigInt(n)
	if scale != t.Scale {
		var err error
		if v, err = v.Rescale(scale, t.Scale); err != nil {
			return decimal128.Num{}, fmt.Errorf("confluent.type.Decimal %s of scale %d does not fit DECIMAL(%d, %d) without losing digits", n, scale, t.Precision, t.Scale)
		}
	}
	if !v.FitsInPrecision(t.Precision) {
		return decimal128.Num{}, tooBig
	}
	return v, nil
}
