/* A persistent helper thread that runs one job alongside the caller: a two-way split of a call.
 *
 * Starting a thread per call costs more than a whole batch-1 step, so the helper is started
 * once (lazily, per library) and then waits for jobs: it spins for PAIR_IDLE_SPIN_NS after
 * each job (the next step usually comes within tens of microseconds) and then sleeps on a
 * condition variable, so an idle process does not burn a core and the caller's own work
 * between calls (sampling on torch threads) gets the second core. Inside a job the two threads
 * meet at phase flags (pair_mark / pair_wait), spinning with a yield every few hundred spins
 * in case the other thread lost its CPU on a busy machine.
 *
 * One caller at a time owns the helper (a trylock): a concurrent caller gets -1 from
 * pair_begin and runs its call alone. The helper blocks all signals (they go to the caller's
 * threads), and a forked child forgets the helper (threads do not survive fork) and starts
 * its own on first use. The including file defines _POSIX_C_SOURCE before any header.
 */
#ifndef BENCHBOX_PAIR_H
#define BENCHBOX_PAIR_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define PAIR_IDLE_SPIN_NS 50000L /* helper spins this long for the next job, then sleeps */
#define PAIR_YIELD_SPINS 512      /* spins between yields while waiting inside a job */

typedef void (*pair_job)(void *arg);

static struct {
    pthread_mutex_t busy; /* held by the caller that owns the helper, pair_begin .. pair_end */
    pthread_mutex_t lock; /* with `wake`: the helper's sleep */
    pthread_cond_t wake;
    int started, fork_handler; /* guarded by busy */
    atomic_long posted, finished; /* jobs handed out / completed */
    atomic_int sleeping;
    pair_job job;
    void *arg;
} pair_pool = {.busy = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static inline void pair_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long pair_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static inline void pair_mark(atomic_int *flag, int value) { atomic_store_explicit(flag, value, memory_order_release); }

/* Wait until *flag >= value (set by the other thread with pair_mark). */
static void pair_wait(atomic_int *flag, int value) {
    for (long spins = 1; atomic_load_explicit(flag, memory_order_acquire) < value; spins++) {
        pair_relax();
        if (spins % PAIR_YIELD_SPINS == 0) sched_yield();
    }
}

static void *pair_helper(void *first) {
    long seen = (long)(intptr_t)first; /* jobs posted before this thread existed */
    for (;;) {
        long start = pair_now_ns();
        for (long spins = 1; atomic_load(&pair_pool.posted) == seen; spins++) {
            pair_relax();
            if (spins % 64 != 0) continue;
            if (pair_now_ns() - start < PAIR_IDLE_SPIN_NS) {
                sched_yield(); /* let a runnable thread of this core go first */
                continue;
            }
            pthread_mutex_lock(&pair_pool.lock);
            atomic_store(&pair_pool.sleeping, 1);
            while (atomic_load(&pair_pool.posted) == seen) pthread_cond_wait(&pair_pool.wake, &pair_pool.lock);
            atomic_store(&pair_pool.sleeping, 0);
            pthread_mutex_unlock(&pair_pool.lock);
        }
        seen++; /* the owner posts one job and waits for it before the next */
        pair_pool.job(pair_pool.arg);
        atomic_store_explicit(&pair_pool.finished, seen, memory_order_release);
    }
    return NULL;
}

static void pair_after_fork(void) {
    pthread_mutex_init(&pair_pool.busy, NULL);
    pthread_mutex_init(&pair_pool.lock, NULL);
    pthread_cond_init(&pair_pool.wake, NULL);
    pair_pool.started = 0;
    atomic_store(&pair_pool.sleeping, 0);
    atomic_store(&pair_pool.finished, atomic_load(&pair_pool.posted));
}

static int pair_start(void) {
    if (!pair_pool.fork_handler) {
        if (pthread_atfork(NULL, NULL, pair_after_fork) != 0) return -1;
        pair_pool.fork_handler = 1;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the helper inherits a full mask */
    pthread_attr_t attr;
    pthread_t thread;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&thread, &attr, pair_helper, (void *)(intptr_t)atomic_load(&pair_pool.posted));
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pair_pool.started = rc == 0;
    return rc == 0 ? 0 : -1;
}

/* Start job(arg) on the helper; 0: it runs (call pair_end after your half), -1: run alone. */
static int pair_begin(pair_job job, void *arg) {
    if (pthread_mutex_trylock(&pair_pool.busy) != 0) return -1;
    if (!pair_pool.started && pair_start() != 0) {
        pthread_mutex_unlock(&pair_pool.busy);
        return -1;
    }
    pair_pool.job = job;
    pair_pool.arg = arg;
    atomic_fetch_add(&pair_pool.posted, 1);
    if (atomic_load(&pair_pool.sleeping)) {
        pthread_mutex_lock(&pair_pool.lock);
        pthread_cond_signal(&pair_pool.wake);
        pthread_mutex_unlock(&pair_pool.lock);
    }
    return 0;
}

/* Wait for the helper's job to finish and release the helper. */
static void pair_end(void) {
    long target = atomic_load(&pair_pool.posted);
    for (long spins = 1; atomic_load_explicit(&pair_pool.finished, memory_order_acquire) != target; spins++) {
        pair_relax();
        if (spins % PAIR_YIELD_SPINS == 0) sched_yield();
    }
    pthread_mutex_unlock(&pair_pool.busy);
}

#endif
