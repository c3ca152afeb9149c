package probes

// Latest returns a copy of each running probe's last Result, by probe name.
// A probe that has not finished a run yet is absent.
func (s *Scheduler) Latest() map[string]Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Result, len(s.latest))
	for name, r := range s.latest {
		out[name] = *r
	}
	return out
}
