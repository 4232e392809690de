// micro::driver::cgroupCpuLimit and usableCpus: the quota search over
// cgroup v1 and v2 layouts laid out in a directory tree (nesting, a mount
// whose root is not "/", escaped mount points, malformed files), then real
// processes: one started on a single CPU with taskset, and one started in a
// cgroup of its own with a CPU quota, which the probe must see.
#include <micro/driver/cpu_budget.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "process.hpp"

namespace fs = std::filesystem;
using micro::driver::affinityCpus;
using micro::driver::cgroupCpuLimit;
using micro::driver::usableCpus;
using micro::test::TempDir;

namespace {

constexpr const char* kV2Mount = "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
constexpr const char* kV1Mounts =
    "31 25 0:27 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n"
    "32 25 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";

/// Runs `command` and returns what it printed.
std::string output(const std::string& command) {
    std::string text;
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buffer[256];
    while (fgets(buffer, sizeof buffer, pipe) != nullptr) text += buffer;
    CHECK(pclose(pipe) == 0);
    return text;
}

std::string probe(const std::string& prefix = "") {
    return output(prefix + " '" MICRO_CPU_BUDGET_PROBE "'");
}

std::string expected(std::size_t usable) {
    return "usable=" + std::to_string(usable) +
           " io_threads=" + std::to_string(usable / 2 > 0 ? usable / 2 : 1) + "\n";
}

}  // namespace

TEST_CASE("cpu budget: a cgroup v2 quota is read as CPUs, max is no limit") {
    TempDir root;  // stands for "/"
    root.write("sys/fs/cgroup/cpu.max", "150000 100000\n");
    // Quotas over periods of whole microseconds: exact in a double.
    CHECK(cgroupCpuLimit(kV2Mount, "0::/\n", root.path()) == 1.5);

    root.write("sys/fs/cgroup/cpu.max", "max 100000\n");
    CHECK_FALSE(cgroupCpuLimit(kV2Mount, "0::/\n", root.path()).has_value());
}

TEST_CASE("cpu budget: a parent's quota limits a child that sets none") {
    TempDir root;
    root.write("sys/fs/cgroup/cpu.max", "max 100000\n");
    root.write("sys/fs/cgroup/team/cpu.max", "50000 100000\n");
    root.write("sys/fs/cgroup/team/svc/cpu.max", "max 100000\n");
    root.write("sys/fs/cgroup/team/svc/pod/cpu.max", "300000 100000\n");
    CHECK(cgroupCpuLimit(kV2Mount, "0::/team/svc/pod\n", root.path()) == 0.5);
}

TEST_CASE("cpu budget: cgroup v1 reads the cpu hierarchy, not cpuacct") {
    TempDir root;
    root.write("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n");
    root.write("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
    root.write("sys/fs/cgroup/cpu/svc/cpu.cfs_quota_us", "250000\n");
    root.write("sys/fs/cgroup/cpu/svc/cpu.cfs_period_us", "100000\n");
    // A quota in the cpuacct hierarchy means nothing and must not be read.
    root.write("sys/fs/cgroup/cpuacct/svc/cpu.cfs_quota_us", "10000\n");
    root.write("sys/fs/cgroup/cpuacct/svc/cpu.cfs_period_us", "100000\n");
    const std::string cgroups = "3:cpuacct:/svc\n2:memory:/svc\n1:cpu:/svc\n0::/\n";
    CHECK(cgroupCpuLimit(std::string(kV1Mounts) + kV2Mount, cgroups, root.path()) == 2.5);
}

TEST_CASE("cpu budget: a mount whose root is the process's cgroup, and one it is outside of") {
    TempDir root;
    // As in a container without a cgroup namespace: the host's path is the mount's root.
    const std::string mount =
        "40 25 0:29 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu,cpuacct\n";
    root.write("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "100000\n");
    root.write("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
    CHECK(cgroupCpuLimit(mount, "1:cpu,cpuacct:/docker/abc\n", root.path()) == 1.0);
    // "/docker/abcd" shares a prefix with the root but is not inside it.
    CHECK_FALSE(cgroupCpuLimit(mount, "1:cpu,cpuacct:/docker/abcd\n", root.path()).has_value());
}

TEST_CASE("cpu budget: escaped characters in a mount point") {
    TempDir root;
    root.write("cg roups/cpu.max", "200000 100000\n");
    const std::string mount = "30 25 0:26 / /cg\\040roups rw - cgroup2 cgroup2 rw\n";
    CHECK(cgroupCpuLimit(mount, "0::/\n", root.path()) == 2.0);
}

TEST_CASE("cpu budget: malformed files and lines count as no limit") {
    TempDir root;
    root.write("sys/fs/cgroup/cpu.max", "lots of CPUs\n");
    CHECK_FALSE(cgroupCpuLimit(kV2Mount, "0::/\n", root.path()).has_value());
    root.write("sys/fs/cgroup/cpu.max", "150000 0\n");
    CHECK_FALSE(cgroupCpuLimit(kV2Mount, "0::/\n", root.path()).has_value());
    root.write("sys/fs/cgroup/cpu.max", "-5 100000\n");
    CHECK_FALSE(cgroupCpuLimit(kV2Mount, "0::/\n", root.path()).has_value());
    root.write("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "12x\n");
    root.write("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
    CHECK_FALSE(cgroupCpuLimit(kV1Mounts, "1:cpu:/\n", root.path()).has_value());
    // Truncated mountinfo lines, a /proc/self/cgroup without colons, nothing at all.
    CHECK_FALSE(cgroupCpuLimit("30 25 0:26 / /sys/fs/cgroup rw - cgroup2\n", "0::/\n", root.path())
                    .has_value());
    CHECK_FALSE(cgroupCpuLimit(kV2Mount, "garbage\n", root.path()).has_value());
    CHECK_FALSE(cgroupCpuLimit("", "", root.path()).has_value());
    // A quota file that does not exist.
    CHECK_FALSE(cgroupCpuLimit(kV2Mount, "0::/nowhere\n", root.path()).has_value());
}

TEST_CASE("cpu budget: this process, and a process allowed one CPU by its affinity") {
    const std::size_t usable = usableCpus();
    CHECK(usable >= 1);
    CHECK(usable <= affinityCpus());
    CHECK(probe() == expected(usable));
    CHECK(probe("taskset -c 0") == expected(1));
}

namespace {

/// A cgroup of our own with a CPU quota, under whichever cgroup hierarchy
/// has the cpu controller; removed at the end. Empty when this process may
/// not create one (not root, read-only cgroup file system).
struct QuotaCgroup {
    fs::path dir;

    explicit QuotaCgroup(long quotaUs) {
        const std::string name = "micro-cpu-budget-" + std::to_string(getpid());
        std::ifstream mounts("/proc/self/mountinfo");
        for (std::string line; std::getline(mounts, line);) {
            const bool v1 = line.find(" - cgroup ") != std::string::npos &&
                            (line.ends_with(",cpu") || line.find(",cpu,") != std::string::npos);
            const bool v2 = line.find(" - cgroup2 ") != std::string::npos;
            if (!v1 && !v2) continue;
            std::istringstream fields(line);
            std::string id, parent, dev, root, mountPoint;
            fields >> id >> parent >> dev >> root >> mountPoint;
            if (root != "/") continue;
            const fs::path top = mountPoint;
            if (v2) {
                // The cpu controller must be on offer and handed to children.
                std::ifstream controllers(top / "cgroup.controllers");
                std::string list;
                std::getline(controllers, list);
                if (list.find("cpu") == std::string::npos) continue;
                std::ofstream(top / "cgroup.subtree_control") << "+cpu";
            }
            std::error_code ec;
            if (!fs::create_directory(top / name, ec) || ec) continue;
            dir = top / name;
            if (v2) {
                std::ofstream(dir / "cpu.max") << quotaUs << " 100000";
            } else {
                std::ofstream(dir / "cpu.cfs_period_us") << 100000;
                std::ofstream(dir / "cpu.cfs_quota_us") << quotaUs;
            }
            return;
        }
    }
    ~QuotaCgroup() {
        if (!dir.empty()) rmdir(dir.c_str());
    }
};

}  // namespace

TEST_CASE("cpu budget: a process in a cgroup with a CPU quota") {
    // Needs root and a writable cgroup file system with the cpu controller
    // (so CI's machines); elsewhere the quota search is covered above.
    QuotaCgroup half(50000);
    if (half.dir.empty()) {
        MESSAGE("cannot make a cgroup with a CPU quota here (uid " << geteuid() << ")");
        return;
    }
    const std::string enter =
        "sh -c 'echo $$ > \"" + (half.dir / "cgroup.procs").string() + "\" && exec \"$0\"'";
    CHECK(probe(enter) == expected(1));
}
