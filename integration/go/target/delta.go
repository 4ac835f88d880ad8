package main

// A stand-in for godeltaprof (not packaged for offline builds here): the
// /debug/pprof/delta_{heap,mutex,block} endpoints answer with the change since
// the previous request to the same endpoint, as godeltaprof does (the first
// request gets everything since the process started). inuse_* values of the
// heap profile are passed through, not differenced.

import (
	"bytes"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"

	"github.com/google/pprof/profile"
)

type deltaHandler struct {
	lookup string // runtime/pprof profile name
	mu     sync.Mutex
	prev   *profile.Profile
}

func (h *deltaHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	var raw bytes.Buffer
	if err := pprof.Lookup(h.lookup).WriteTo(&raw, 0); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	cur, err := profile.Parse(&raw)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := cur
	if h.prev != nil {
		neg := h.prev.Copy()
		ratios := make([]float64, len(neg.SampleType))
		for i, st := range neg.SampleType {
			if !strings.HasPrefix(st.Type, "inuse_") {
				ratios[i] = -1
			}
		}
		if err := neg.ScaleN(ratios); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		merged, err := profile.Merge([]*profile.Profile{neg, cur})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		merged.TimeNanos = cur.TimeNanos
		merged.DurationNanos = cur.TimeNanos - h.prev.TimeNanos
		out = merged
	}
	h.prev = cur
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := out.Write(w); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func registerDeltaHandlers(mux *http.ServeMux) {
	mux.Handle("/debug/pprof/delta_heap", &deltaHandler{lookup: "allocs"})
	mux.Handle("/debug/pprof/delta_mutex", &deltaHandler{lookup: "mutex"})
	mux.Handle("/debug/pprof/delta_block", &deltaHandler{lookup: "block"})
}
