package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"panguard.ai/auth/internal/loadgen"
	"panguard.ai/auth/internal/store"
)

var (
	openRate  = flag.Float64("open-rate", 1000, "me requests per second offered in the open-loop scenario")
	openAlone = flag.Duration("open-alone", 10*time.Second, "open loop: measured time of me alone (after 1 s of warm-up)")
	openStorm = flag.Duration("open-storm", 10*time.Second, "open loop: measured time of me while the logins run (after 2 s of ramp)")
	stormN    = flag.Int("storm-logins", 500, "concurrent logins of the storm")
	designs   = flag.String("storm-designs", "before,after,low,idle,procs,one-slot", "hashing designs measured through the login storm, in order (before, after, low, idle, procs, one-slot)")
	svgOut    = flag.String("svg", "internal/bench/storm-latency.svg", "picture of me's latency through the storm (written with the report)")
)

// design is a way of running the password hashes, selected with the service's environment.
type design struct {
	name, label string
	env         []string
}

func hashDesigns() []design {
	cores, spare := strconv.Itoa(runtime.NumCPU()), strconv.Itoa(2*runtime.NumCPU())
	return []design{
		{"before", "hashes in the service's process at its priority, GOMAXPROCS = cores (PANGUARD_HASH_WORKERS=off)", []string{"PANGUARD_HASH_WORKERS=off"}},
		{"after", "hashes in worker processes at the service's priority, one per slot (the default)", nil},
		{"low", "hashes in worker processes at niceness 19 (PANGUARD_HASH_WORKERS=low)", []string{"PANGUARD_HASH_WORKERS=low"}},
		{"idle", "hashes in worker processes under SCHED_IDLE (PANGUARD_HASH_WORKERS=idle)", []string{"PANGUARD_HASH_WORKERS=idle"}},
		{"procs", "hashes in the service's process with a spare P per slot, at normal priority (PANGUARD_HASH_WORKERS=off GOMAXPROCS=" + spare + ")", []string{"PANGUARD_HASH_WORKERS=off", "GOMAXPROCS=" + spare, "PANGUARD_HASH_CONCURRENCY=" + cores}},
		{"one-slot", "one hashing slot: hashing on fewer cores (PANGUARD_HASH_CONCURRENCY=1 PANGUARD_HASH_WORKERS=off)", []string{"PANGUARD_HASH_WORKERS=off", "PANGUARD_HASH_CONCURRENCY=1"}},
	}
}

// stormRun is me, offered at a fixed rate, alone and then through a login storm.
type stormRun struct {
	d                design
	run              loadgen.OpenRun
	alone, storm     loadgen.OpenResult
	stormAt, stormTo time.Duration // the storm's start and end, from the run's start
	measureFrom      time.Duration // the storm's measured window starts here
	logins           float64       // per second in the storm's measured window
	hashRate         float64       // the parallel-hash rate measured just before this run
	loginErrs        int           // unexpected answers in that window
	cpu              float64       // cores the service used in that window
	waits            waitSample    // what the service waited on in that window
}

// waitSample is what the service and its database were doing during the storm, averaged over
// samples taken every 100 ms.
type waitSample struct {
	n                    int
	hashRunning, hashQ   float64
	poolInUse, poolIdle  float64
	poolWaits            float64 // waits for a pool connection in the window
	poolWaitSeconds      float64
	pgActive, pgIdleInTx float64
	pgWait               map[string]float64 // wait_event_type:wait_event of active backends
}

func (w waitSample) String() string {
	if w.n == 0 {
		return "no samples"
	}
	n := float64(w.n)
	var ev []string
	for k, v := range w.pgWait {
		ev = append(ev, fmt.Sprintf("%s %.1f", k, v/n))
	}
	sort.Strings(ev)
	evs := "none"
	if len(ev) > 0 {
		evs = strings.Join(ev, ", ")
	}
	return fmt.Sprintf("hashes running %.1f, queued for a slot %.0f; DB pool in use %.1f (idle %.1f), %.0f waits for a connection (%.2f s in all); PostgreSQL backends active %.1f, idle in transaction %.1f; wait events of active backends: %s",
		w.hashRunning/n, w.hashQ/n, w.poolInUse/n, w.poolIdle/n, w.poolWaits, w.poolWaitSeconds, w.pgActive/n, w.pgIdleInTx/n, evs)
}

// measureOpenLoop runs, for each hashing design, a PostgreSQL service and offers it me at a
// fixed rate: alone, then while stormN logins run at once, then after.
func measureOpenLoop(ctx context.Context, rp *report, bin, tmp string) error {
	all := hashDesigns()
	for _, name := range strings.Split(*designs, ",") {
		var d *design
		for i := range all {
			if all[i].name == strings.TrimSpace(name) {
				d = &all[i]
			}
		}
		if d == nil {
			return fmt.Errorf("unknown storm design %q", name)
		}
		// The ceiling is measured again next to each storm: on a shared machine the cores'
		// availability drifts, and login/s is judged against what they gave just then.
		hashRate := parallelHashRate(runtime.NumCPU(), 3*time.Second)
		dbURL, cleanup, err := newDatabase("postgres", tmp, "open")
		if err != nil {
			return err
		}
		s, err := startService(bin, dbURL, tmp, d.env...)
		if err != nil {
			cleanup()
			return err
		}
		r, err := stormThrough(ctx, s, dbURL, *d)
		s.stop()
		cleanup()
		if err != nil {
			return err
		}
		r.hashRate = hashRate
		rp.storms = append(rp.storms, r)
		fmt.Printf("open loop %-8s me %.0f/s alone: p50 %v p99 %v | storm: p50 %v p99 %v (%.2f× alone), errors %d/%d; logins %.1f/s (%.2f× the parallel-hash rate), service CPU %.2f cores\n  waits: %v\n",
			d.name, *openRate, r.alone.P50.Round(10*time.Microsecond), r.alone.P99.Round(10*time.Microsecond),
			r.storm.P50.Round(10*time.Microsecond), r.storm.P99.Round(10*time.Microsecond), float64(r.storm.P99)/float64(r.alone.P99),
			r.storm.Errors, r.storm.Offered, r.logins, r.logins/r.hashRate, r.cpu, r.waits)
	}
	return nil
}

func stormThrough(ctx context.Context, s *service, dbURL string, d design) (*stormRun, error) {
	setup := loadgen.Client(4)
	if _, err := post(ctx, setup, s.base+"/api/auth/register", `{"email":"bench@example.com","name":"Bench","password":"bench-password"}`, 200); err != nil {
		return nil, err
	}
	env, err := post(ctx, setup, s.base+"/api/auth/login", `{"email":"bench@example.com","password":"bench-password"}`, 200)
	if err != nil {
		return nil, err
	}
	token := tokenOf(env)
	pg, err := store.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer pg.Close()

	const warm, ramp, tail = time.Second, 2 * time.Second, 3 * time.Second
	r := &stormRun{d: d}
	r.stormAt = warm + *openAlone
	r.measureFrom = r.stormAt + ramp
	r.stormTo = r.measureFrom + *openStorm
	total := r.stormTo + tail

	client := loadgen.Client(512)
	start := time.Now()
	var done sync.WaitGroup
	done.Add(1)
	go func() {
		defer done.Done()
		r.run = loadgen.RunOpen(ctx, *openRate, total, 5*time.Second, func(ctx context.Context, _ int) error {
			return get(ctx, client, s.base+"/api/auth/me", token, 200)
		})
	}()

	// The storm: stormN workers, each logging in again as soon as its last login is answered,
	// every login naming another unknown address (credential stuffing: each costs one hash).
	time.Sleep(time.Until(start.Add(r.stormAt)))
	stormCtx, stopStorm := context.WithCancel(ctx)
	var logins, loginErrs atomic.Int64
	mFrom, mTo := start.Add(r.measureFrom), start.Add(r.stormTo)
	lclient := loadgen.Client(*stormN)
	id := runID.Add(1)
	var storm sync.WaitGroup
	for w := range *stormN {
		storm.Add(1)
		go func() {
			defer storm.Done()
			for seq := 0; stormCtx.Err() == nil; seq++ {
				_, err := postFrom(stormCtx, lclient, s.base+"/api/auth/login",
					fmt.Sprintf(`{"email":"storm%d-%d-%d@example.com","password":"bench-password"}`, id, w, seq), workerIP(w), 401)
				if now := time.Now(); now.After(mFrom) && now.Before(mTo) {
					if err == nil {
						logins.Add(1)
					} else if stormCtx.Err() == nil {
						loginErrs.Add(1)
					}
				}
			}
		}()
	}
	time.Sleep(time.Until(mFrom))
	cpu0, _ := loadgen.FamilyCPUTime(s.cmd.Process.Pid)
	pool0 := s.scrape()
	var ws waitSample
	ws.pgWait = map[string]float64{}
	for time.Now().Before(mTo) {
		ws.sample(s, pg)
		time.Sleep(100 * time.Millisecond)
	}
	cpu1, _ := loadgen.FamilyCPUTime(s.cmd.Process.Pid)
	pool1 := s.scrape()
	ws.poolWaits = pool1["go_sql_wait_count_total"] - pool0["go_sql_wait_count_total"]
	ws.poolWaitSeconds = pool1["go_sql_wait_duration_seconds_total"] - pool0["go_sql_wait_duration_seconds_total"]
	stopStorm()
	storm.Wait()
	done.Wait()

	r.waits = ws
	r.cpu = (cpu1 - cpu0).Seconds() / (r.stormTo - r.measureFrom).Seconds()
	r.logins = float64(logins.Load()) / (r.stormTo - r.measureFrom).Seconds()
	r.loginErrs = int(loginErrs.Load())
	r.alone = r.run.Between(warm, r.stormAt)
	r.storm = r.run.Between(r.measureFrom, r.stormTo)
	return r, nil
}

// sample adds one look at the service's gauges and PostgreSQL's backends.
func (w *waitSample) sample(s *service, pg *store.Store) {
	m := s.scrape()
	w.n++
	w.hashRunning += m["panguard_password_hash_running"]
	w.hashQ += m["panguard_password_hash_queue_depth"]
	w.poolInUse += m["go_sql_in_use_connections"]
	w.poolIdle += m["go_sql_idle_connections"]
	rows, err := pg.SQLDB().Query(`SELECT state, COALESCE(wait_event_type, ''), COALESCE(wait_event, '')
		FROM pg_stat_activity WHERE application_name = 'panguard-auth' AND pid <> pg_backend_pid()`)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var state, typ, ev string
		if rows.Scan(&state, &typ, &ev) != nil {
			continue
		}
		switch state {
		case "active":
			w.pgActive++
			if typ != "" {
				w.pgWait[typ+":"+ev]++
			}
		case "idle in transaction":
			w.pgIdleInTx++
		}
	}
}

// scrape reads the service's unlabelled metrics.
func (s *service) scrape() map[string]float64 {
	out := map[string]float64{}
	res, err := http.Get(s.metrics + "/metrics")
	if err != nil {
		return out
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(res.Body, 4<<20))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		// Labelled series add up under their bare name (the pool's gauges carry db_name).
		if i := strings.LastIndexByte(l, ' '); i > 0 {
			name := l[:i]
			if j := strings.IndexByte(name, '{'); j >= 0 {
				name = name[:j]
			}
			if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
				out[name] += v
			}
		}
	}
	return out
}

// writeOpenLoop adds the open-loop table and the picture to the report.
func (rp *report) writeOpenLoop(b *strings.Builder) error {
	if len(rp.storms) == 0 {
		return nil
	}
	fmt.Fprintf(b, "\n## Open loop: me at a fixed %.0f requests/s through a login storm (PostgreSQL)\n\n", *openRate)
	fmt.Fprintf(b, "Requests arrive on a schedule whatever the answers do, and each latency runs from the request's scheduled time, so queueing counts (no coordinated omission). me alone for %v (after 1 s of warm-up), then %d logins at once (each worker logging in again as soon as it is answered, every login an unknown address costing one hash) for 2 s of ramp and %v measured, then 3 s after. Login/s is counted in the same measured window, against the parallel-hash rate measured just before each design's run (3 s of hashing on every core, as in the ceilings). Each design is a fresh service and database, one after the other in this run.\n\n",
		*openAlone, *stormN, *openStorm)
	b.WriteString("| hashing design | me p50 alone | me p99 alone | me p50 storm | me p99 storm | p99 storm ÷ alone | me errors in storm | logins/s in storm | hash rate just before | ÷ hash rate | service CPU (cores) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rp.storms {
		fmt.Fprintf(b, "| %s: %s | %v | %v | %v | %v | %.2f× | %d/%d | %.1f | %.1f/s | %.2f× | %.2f |\n", r.d.name, r.d.label,
			r.alone.P50.Round(10*time.Microsecond), r.alone.P99.Round(10*time.Microsecond),
			r.storm.P50.Round(10*time.Microsecond), r.storm.P99.Round(10*time.Microsecond),
			float64(r.storm.P99)/float64(r.alone.P99), r.storm.Errors, r.storm.Offered,
			r.logins, r.hashRate, r.logins/r.hashRate, r.cpu)
	}
	b.WriteString("\nWhat the service and PostgreSQL were doing during each storm (means of samples every 100 ms):\n\n")
	for _, r := range rp.storms {
		fmt.Fprintf(b, "- **%s**: %v.\n", r.d.name, r.waits)
	}
	if *svgOut != "" {
		if err := os.WriteFile(*svgOut, []byte(stormSVG(rp.storms)), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(b, "\n![me latency (p50, p99 per 250 ms of scheduled time) through the login storm, each design](%s)\n", *svgOut)
	}
	return nil
}
