/* A disk whose fsync is slow, for benchmarks/first_sync.py --fsync-ms: preloaded into the
 * child (LD_PRELOAD), it counts the process's fsync and fdatasync calls (SQLite commits and
 * cmrules' own fsyncs) and, after each real call, sleeps SLOWSYNC_MS milliseconds. The count
 * is written to the file named by SLOWSYNC_COUNT at exit. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long calls;
static struct timespec delay;
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

__attribute__((constructor)) static void slowsync_init(void) {
    const char *ms = getenv("SLOWSYNC_MS");
    double d = ms ? atof(ms) : 0.0;
    delay.tv_sec = (time_t)(d / 1000.0);
    delay.tv_nsec = (long)((d - (double)delay.tv_sec * 1000.0) * 1e6);
    real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
}

static void slowsync_wait(void) {
    calls++;
    if (delay.tv_sec || delay.tv_nsec) nanosleep(&delay, NULL);
}

int fsync(int fd) {
    int r = real_fsync(fd);
    slowsync_wait();
    return r;
}

int fdatasync(int fd) {
    int r = real_fdatasync(fd);
    slowsync_wait();
    return r;
}

__attribute__((destructor)) static void slowsync_report(void) {
    const char *path = getenv("SLOWSYNC_COUNT");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "%ld\n", calls);
        fclose(f);
    }
}
