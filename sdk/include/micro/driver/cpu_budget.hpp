// micro/driver/cpu_budget.hpp — how many CPUs this process may keep busy,
// for sizing thread pools by default: the CPUs its affinity mask allows,
// capped by the CPU quota of its cgroup (v2 `cpu.max`, v1
// `cpu.cfs_quota_us` / `cpu.cfs_period_us`), as a container runtime sets it.
// std::thread::hardware_concurrency counts the machine's CPUs instead, which
// in a container limited to 2 CPUs on a 64-CPU node is 64.
//
// Contract
//   usableCpus(): min(affinity CPUs, quota rounded up), at least 1. Reads
//     /proc/self/mountinfo, /proc/self/cgroup and the quota files of the
//     process's cgroup and every ancestor up to its mount (a quota set on a
//     parent limits the children). Never throws: a file that is missing,
//     unreadable or malformed counts as "no limit there".
//   cgroupCpuLimit(): the same quota search over given texts, with every
//     mount point read under `prefix`, so that it can be checked against a
//     directory tree; the quota in CPUs (1.5 for "150000 100000"), or
//     nothing when no cgroup on the way limits the CPU.
//   Threads: pure functions of the files; safe from any thread. The quota
//     is read on each call: call it when sizing a pool, not per request.
#pragma once

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace micro::driver {

namespace cpu_budget_detail {

inline std::string readText(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) return {};
    std::ostringstream text;
    text << in.rdbuf();
    return std::move(text).str();
}

inline std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    while (true) {
        const std::size_t at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos) return parts;
        text.remove_prefix(at + 1);
    }
}

inline bool listHas(std::string_view commaList, std::string_view item) {
    for (std::string_view part : split(commaList, ',')) {
        if (part == item) return true;
    }
    return false;
}

inline std::optional<long long> parseInteger(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

/// mountinfo writes space, tab, newline and backslash in paths as \ooo.
inline std::string unescapeMountPath(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 3 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '3' &&
            text[i + 2] >= '0' && text[i + 2] <= '7' && text[i + 3] >= '0' && text[i + 3] <= '7') {
            out.push_back(static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 +
                                            (text[i + 3] - '0')));
            i += 3;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

/// CPUs allowed by one cgroup directory's own quota files, if they set one.
inline std::optional<double> quotaIn(const std::filesystem::path& dir, bool v2) {
    std::optional<long long> quota, period;
    if (v2) {
        // "QUOTA PERIOD" in microseconds, or "max PERIOD".
        const std::string text = readText(dir / "cpu.max");
        const std::vector<std::string_view> fields = split(text, ' ');
        if (fields.size() != 2) return std::nullopt;
        quota = parseInteger(fields[0]);
        period = parseInteger(fields[1]);
    } else {
        quota = parseInteger(readText(dir / "cpu.cfs_quota_us"));
        period = parseInteger(readText(dir / "cpu.cfs_period_us"));
    }
    // "max" (v2) and -1 (v1) are no limit, as is anything unreadable.
    if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
    return static_cast<double>(*quota) / static_cast<double>(*period);
}

}  // namespace cpu_budget_detail

/// The CPU quota, in CPUs, that the cgroups named by `procSelfCgroup` (the
/// text of /proc/self/cgroup) impose, found through the cgroup mounts in
/// `mountinfo` (the text of /proc/self/mountinfo) read under `prefix`.
inline std::optional<double> cgroupCpuLimit(std::string_view mountinfo,
                                            std::string_view procSelfCgroup,
                                            const std::filesystem::path& prefix = "/") {
    using namespace cpu_budget_detail;
    std::optional<double> limit;
    for (std::string_view line : split(mountinfo, '\n')) {
        // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
        const std::vector<std::string_view> fields = split(line, ' ');
        const auto dash = std::find(fields.begin(), fields.end(), std::string_view("-"));
        if (fields.size() < 6 || dash == fields.end() || fields.end() - dash < 4) continue;
        const std::string_view fsType = dash[1];
        const bool v2 = fsType == "cgroup2";
        if (!v2 && !(fsType == "cgroup" && listHas(dash[3], "cpu"))) continue;
        const std::string root = unescapeMountPath(fields[3]);
        const std::string mountPoint = unescapeMountPath(fields[4]);

        // The process's path in this hierarchy: "0::PATH" for v2, the line
        // whose controllers include cpu for v1.
        std::optional<std::string> path;
        for (std::string_view entry : split(procSelfCgroup, '\n')) {
            const std::size_t first = entry.find(':');
            const std::size_t second =
                first == std::string_view::npos ? first : entry.find(':', first + 1);
            if (second == std::string_view::npos) continue;
            const std::string_view controllers = entry.substr(first + 1, second - first - 1);
            if (v2 ? entry.substr(0, first) == "0" && controllers.empty()
                   : listHas(controllers, "cpu")) {
                path = std::string(entry.substr(second + 1));
                break;
            }
        }
        // Only a path inside the mount's root can be read through it.
        const bool inside = root == "/"
                                ? path && path->rfind('/', 0) == 0
                                : path && path->rfind(root, 0) == 0 &&
                                      (path->size() == root.size() || (*path)[root.size()] == '/');
        if (!inside) continue;
        std::string relative = path->substr(root == "/" ? 0 : root.size());

        const std::filesystem::path top =
            prefix / std::filesystem::path(mountPoint).relative_path();
        while (true) {
            const std::filesystem::path dir = top / std::filesystem::path(relative).relative_path();
            if (const auto quota = quotaIn(dir, v2); quota && (!limit || *quota < *limit)) {
                limit = quota;
            }
            const std::size_t slash = relative.find_last_of('/');
            if (relative.empty() || relative == "/" || slash == std::string::npos) break;
            relative.resize(slash == 0 ? 1 : slash);
        }
    }
    return limit;
}

/// CPUs in this process's affinity mask (hardware_concurrency if that
/// cannot be read), at least 1.
inline std::size_t affinityCpus() noexcept {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        return std::max<std::size_t>(static_cast<std::size_t>(CPU_COUNT(&set)), 1);
    }
    return std::max<std::size_t>(std::thread::hardware_concurrency(), 1);
}

/// How many CPUs this process may keep busy (see the contract above).
inline std::size_t usableCpus() noexcept {
    const std::size_t affinity = affinityCpus();
    try {
        const std::optional<double> limit =
            cgroupCpuLimit(cpu_budget_detail::readText("/proc/self/mountinfo"),
                           cpu_budget_detail::readText("/proc/self/cgroup"));
        if (!limit) return affinity;
        const auto quota = static_cast<std::size_t>(std::ceil(*limit));
        return std::clamp<std::size_t>(quota, 1, affinity);
    } catch (...) {
        return affinity;  // out of memory while reading: no limit known
    }
}

}  // namespace micro::driver
