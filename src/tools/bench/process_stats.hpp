// What the benchmark reads about processes: the server's memory and CPU time from /proc,
// its own CPU time, and the open-files limit it needs for thousands of sockets.
#pragma once

#include <optional>
#include <string>

namespace hongyan::bench {

// VmRSS of `pid` in KiB (proc(5), /proc/PID/status), or nullopt when it cannot be read.
std::optional<long> resident_kib(int pid);
// User plus system CPU time of `pid` in milliseconds (proc(5), /proc/PID/stat: utime and
// stime, in clock ticks), or nullopt.
std::optional<double> cpu_ms(int pid);
// CPU time this process has used so far, in milliseconds.
double own_cpu_ms();
// Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit.
long raise_open_files_limit();
// True when process `pid` exists.
bool process_alive(int pid);

}  // namespace hongyan::bench
