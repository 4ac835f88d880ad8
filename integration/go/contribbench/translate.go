package main

// pdataTranslate is the stand-in for the contrib translator: a pprof ->
// pdata conversion written here on pdata's public API, used while the contrib
// module is not available to build against (see main.go). It gives
// the request the contrib translator's shape: one ResourceProfiles with one
// ScopeProfiles holding one Profile per pprof sample type, every sample in
// each; a shared dictionary whose entry 0 is the empty value in every table;
// pprof labels as sample attributes (numeric ones with their unit); drop/keep
// frames, doc URL and comments as profile attributes; build ID and the has_*
// flags as mapping attributes; is_folded as a location attribute.
//
// It dedupes with Go maps keyed by pprof IDs and by packed stack keys, and
// looks each sample's stack up once for all sample types, so it is meant to
// cost no more than the contrib translator does for the same request. Its cost
// is therefore a floor for the OpenTelemetry way, not a measurement of the
// contrib translator.

import (
	"encoding/binary"
	"fmt"

	"github.com/google/pprof/profile"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pprofile"
)

// Semantic-convention names the request uses (OpenTelemetry semconv 1.39).
const (
	schemaURL          = "https://opentelemetry.io/schemas/1.39.0"
	keyDropFrames      = "pprof.profile.drop_frames"
	keyKeepFrames      = "pprof.profile.keep_frames"
	keyDocURL          = "pprof.profile.doc_url"
	keyComment         = "pprof.profile.comment"
	keyBuildID         = "process.executable.build_id.gnu"
	keyHasFunctions    = "pprof.mapping.has_functions"
	keyHasFilenames    = "pprof.mapping.has_filenames"
	keyHasLineNumbers  = "pprof.mapping.has_line_numbers"
	keyHasInlineFrames = "pprof.mapping.has_inline_frames"
	keyIsFolded        = "pprof.location.is_folded"
)

type valueKind uint8

const (
	kindStr valueKind = iota + 1
	kindInt
	kindBool
)

type attrKey struct {
	key, unit int32
	kind      valueKind
	s         string
	i         int64
}

// dict fills a ProfilesDictionary, each table deduplicated through a map.
type dict struct {
	d      pprofile.ProfilesDictionary
	strs   map[string]int32
	attrs  map[attrKey]int32
	funcs  map[uint64]int32 // pprof Function.ID -> function_table index
	maps   map[uint64]int32 // pprof Mapping.ID -> mapping_table index
	locs   map[uint64]int32 // pprof Location.ID -> location_table index
	stacks map[string]int32 // packed location indices -> stack_table index
	packed []byte
	idxs   []int32
}

func newDict(d pprofile.ProfilesDictionary, src *profile.Profile) *dict {
	t := &dict{
		d:      d,
		strs:   make(map[string]int32, 64),
		attrs:  make(map[attrKey]int32, 16),
		funcs:  make(map[uint64]int32, len(src.Function)),
		maps:   make(map[uint64]int32, len(src.Mapping)),
		locs:   make(map[uint64]int32, len(src.Location)),
		stacks: make(map[string]int32, len(src.Sample)),
	}
	d.StringTable().Append("")
	t.strs[""] = 0
	d.MappingTable().AppendEmpty()
	d.LocationTable().AppendEmpty()
	d.FunctionTable().AppendEmpty()
	d.AttributeTable().AppendEmpty()
	d.StackTable().AppendEmpty()
	d.LinkTable().AppendEmpty()
	d.FunctionTable().EnsureCapacity(len(src.Function) + 1)
	d.LocationTable().EnsureCapacity(len(src.Location) + 1)
	return t
}

func (t *dict) str(s string) int32 {
	if i, ok := t.strs[s]; ok {
		return i
	}
	i := int32(t.d.StringTable().Len())
	t.d.StringTable().Append(s)
	t.strs[s] = i
	return i
}

func (t *dict) attr(key, unit string, kind valueKind, s string, n int64) int32 {
	k := attrKey{key: t.str(key), unit: -1, kind: kind, s: s, i: n}
	if unit != "" {
		k.unit = t.str(unit)
	}
	if i, ok := t.attrs[k]; ok {
		return i
	}
	i := int32(t.d.AttributeTable().Len())
	a := t.d.AttributeTable().AppendEmpty()
	a.SetKeyStrindex(k.key)
	if k.unit >= 0 {
		a.SetUnitStrindex(k.unit)
	}
	switch kind {
	case kindStr:
		a.Value().SetStr(s)
	case kindInt:
		a.Value().SetInt(n)
	case kindBool:
		a.Value().SetBool(n != 0)
	}
	t.attrs[k] = i
	return i
}

func (t *dict) mapping(m *profile.Mapping) int32 {
	if i, ok := t.maps[m.ID]; ok {
		return i
	}
	i := int32(t.d.MappingTable().Len())
	dm := t.d.MappingTable().AppendEmpty()
	dm.SetMemoryStart(m.Start)
	dm.SetMemoryLimit(m.Limit)
	dm.SetFileOffset(m.Offset)
	dm.SetFilenameStrindex(t.str(m.File))
	ai := dm.AttributeIndices()
	ai.Append(t.attr(keyBuildID, "", kindStr, m.BuildID, 0))
	for _, f := range []struct {
		on  bool
		key string
	}{{m.HasFunctions, keyHasFunctions}, {m.HasFilenames, keyHasFilenames},
		{m.HasLineNumbers, keyHasLineNumbers}, {m.HasInlineFrames, keyHasInlineFrames}} {
		if f.on {
			ai.Append(t.attr(f.key, "", kindBool, "", 1))
		}
	}
	t.maps[m.ID] = i
	return i
}

func (t *dict) function(f *profile.Function) int32 {
	if i, ok := t.funcs[f.ID]; ok {
		return i
	}
	i := int32(t.d.FunctionTable().Len())
	df := t.d.FunctionTable().AppendEmpty()
	df.SetNameStrindex(t.str(f.Name))
	df.SetSystemNameStrindex(t.str(f.SystemName))
	df.SetFilenameStrindex(t.str(f.Filename))
	df.SetStartLine(f.StartLine)
	t.funcs[f.ID] = i
	return i
}

func (t *dict) location(l *profile.Location) int32 {
	if i, ok := t.locs[l.ID]; ok {
		return i
	}
	var mi int32
	if l.Mapping != nil {
		mi = t.mapping(l.Mapping)
	}
	i := int32(t.d.LocationTable().Len())
	dl := t.d.LocationTable().AppendEmpty()
	dl.SetMappingIndex(mi)
	dl.SetAddress(l.Address)
	lines := dl.Lines()
	lines.EnsureCapacity(len(l.Line))
	for _, ln := range l.Line {
		dln := lines.AppendEmpty()
		if ln.Function != nil {
			dln.SetFunctionIndex(t.function(ln.Function))
		}
		dln.SetLine(ln.Line)
		dln.SetColumn(ln.Column)
	}
	if l.IsFolded {
		dl.AttributeIndices().Append(t.attr(keyIsFolded, "", kindBool, "", 1))
	}
	t.locs[l.ID] = i
	return i
}

func (t *dict) stack(locs []*profile.Location) int32 {
	t.packed = t.packed[:0]
	t.idxs = t.idxs[:0]
	for _, l := range locs {
		li := t.location(l)
		t.idxs = append(t.idxs, li)
		t.packed = binary.LittleEndian.AppendUint32(t.packed, uint32(li))
	}
	if i, ok := t.stacks[string(t.packed)]; ok {
		return i
	}
	i := int32(t.d.StackTable().Len())
	t.d.StackTable().AppendEmpty().LocationIndices().Append(t.idxs...)
	t.stacks[string(t.packed)] = i
	return i
}

// sampleAttrs returns the attribute indices of a sample's labels.
func (t *dict) sampleAttrs(s *profile.Sample) []int32 {
	if len(s.Label) == 0 && len(s.NumLabel) == 0 {
		return nil
	}
	var out []int32
	for k, vs := range s.Label {
		for _, v := range vs {
			out = append(out, t.attr(k, "", kindStr, v, 0))
		}
	}
	for k, vs := range s.NumLabel {
		units := s.NumUnit[k]
		for j, v := range vs {
			unit := ""
			if j < len(units) {
				unit = units[j]
			}
			out = append(out, t.attr(k, unit, kindInt, "", v))
		}
	}
	return out
}

func pdataTranslate(src *profile.Profile) (pprofile.Profiles, error) {
	if err := src.CheckValid(); err != nil {
		return pprofile.Profiles{}, fmt.Errorf("invalid pprof: %w", err)
	}
	dst := pprofile.NewProfiles()
	t := newDict(dst.Dictionary(), src)
	// Mappings first, in pprof order.
	for _, m := range src.Mapping {
		t.mapping(m)
	}
	stacks := make([]int32, len(src.Sample))
	attrs := make([][]int32, len(src.Sample))
	for i, s := range src.Sample {
		stacks[i] = t.stack(s.Location)
		attrs[i] = t.sampleAttrs(s)
	}
	var profAttrs []int32
	profAttrs = append(profAttrs,
		t.attr(keyDropFrames, "", kindStr, src.DropFrames, 0),
		t.attr(keyKeepFrames, "", kindStr, src.KeepFrames, 0))
	for i, c := range src.Comments {
		profAttrs = append(profAttrs, t.attr(fmt.Sprintf("%s.%d", keyComment, i), "", kindStr, c, 0))
	}
	profAttrs = append(profAttrs, t.attr(keyDocURL, "", kindStr, src.DocURL, 0))
	var periodType, periodUnit int32
	if src.PeriodType != nil {
		periodType, periodUnit = t.str(src.PeriodType.Type), t.str(src.PeriodType.Unit)
	}

	rp := dst.ResourceProfiles().AppendEmpty()
	rp.SetSchemaUrl(schemaURL)
	sp := rp.ScopeProfiles().AppendEmpty()
	sp.SetSchemaUrl(schemaURL)
	profiles := sp.Profiles()
	profiles.EnsureCapacity(len(src.SampleType))
	for vi, st := range src.SampleType {
		p := profiles.AppendEmpty()
		p.SampleType().SetTypeStrindex(t.str(st.Type))
		p.SampleType().SetUnitStrindex(t.str(st.Unit))
		samples := p.Samples()
		samples.EnsureCapacity(len(src.Sample))
		for i, s := range src.Sample {
			ds := samples.AppendEmpty()
			ds.SetStackIndex(stacks[i])
			ds.Values().Append(s.Value[vi])
			if len(attrs[i]) > 0 {
				ds.AttributeIndices().Append(attrs[i]...)
			}
		}
		p.SetTime(pcommon.Timestamp(src.TimeNanos))
		p.SetDurationNano(uint64(src.DurationNanos))
		p.PeriodType().SetTypeStrindex(periodType)
		p.PeriodType().SetUnitStrindex(periodUnit)
		p.SetPeriod(src.Period)
		p.AttributeIndices().Append(profAttrs...)
	}
	return dst, nil
}
