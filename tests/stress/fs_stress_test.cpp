// fs_stress_test.cpp — goro::fs from many goroutines at once, while sysmon takes Ps.
//
// Every goro::fs call is a goro::blocking call: its fast path runs inline with the P in
// registers, and a call that lasts longer than sysmon's look has its P handed to another
// thread. Here workers on 1, 2 and 4 Ps rewrite and read back files of their own, write
// disjoint blocks of one shared file with pwrite and check them with pread, stat and list
// the directory, rename files back and forth, ask for files that do not exist, and in
// between make calls that sleep long enough to be taken, and hand messages through a
// channel (the run queues' owner paths). Every read must return what was last written,
// every error must be the one expected and reported as an error_code, and at the end no
// descriptor and no goroutine is left over. Counts are cut 4x under TSan;
// GORO_STRESS_SCALE=<k> multiplies them.
#include <goro/core/blocking.hpp>
#include <goro/core/chan.hpp>
#include <goro/core/fs.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/time.hpp>
#include <goro/core/wait_group.hpp>

#include <gtest/gtest.h>

#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "../net/net_test_util.hpp"
#include "sched.hpp"
#include "stress_scale.hpp"

namespace {

using namespace std::chrono_literals;
namespace fs = goro::fs;

// A scratch directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/goro-fs-stress-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    EXPECT_NE(d, nullptr);
    path_ = d != nullptr ? d : "/tmp";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Content that tells its writer, its round and its length apart.
std::string content(int worker, int round, std::size_t n) {
  std::string s(n, '\0');
  net_test::fill_pattern(
      static_cast<std::uint64_t>(worker) * 1'000'003u + static_cast<std::uint64_t>(round), 0,
      reinterpret_cast<unsigned char*>(s.data()), n);
  return s;
}

constexpr std::size_t kBlock = 4096;

class FsStress : public ::testing::TestWithParam<int> {};

TEST_P(FsStress, ConcurrentFilesReadBackWhatWasWrittenAndLeakNothing) {
  const int procs = GetParam();
  const int kWorkers = 8;
  const int kRounds = static_cast<int>(goro_test::scaled(1500));
  TempDir dir;
  const std::filesystem::path shared = dir.path() / "shared";
  std::atomic<std::int64_t> mismatches{0}, wrong_errors{0}, ops{0}, received{0};
  std::vector<std::string> last_block(kWorkers);
  const int fds_before = net_test::count_fds();
  std::uint64_t takes = 0;
  std::int64_t goroutines_after = -1;
  goro::run(goro::Config{.max_procs = procs}, [&] {
    const auto takes_before = goro::detail::sched.nsyscall_takes.load();
    fs::write_file(shared, std::string(kBlock * kWorkers, '\0'));
    goro::Chan<int> ch(8);
    goro::WaitGroup consumer, workers;
    consumer.add(1);
    goro::go([&] {
      while (auto v = ch.recv()) received.fetch_add(*v, std::memory_order_relaxed);
      consumer.done();
    });
    workers.add(kWorkers);
    for (int w = 0; w < kWorkers; ++w) {
      goro::go([&, w] {
        std::minstd_rand rng(static_cast<unsigned>(w) * 2654435761u + 17u);
        const std::filesystem::path own = dir.path() / ("w" + std::to_string(w));
        const std::filesystem::path moved = dir.path() / ("m" + std::to_string(w));
        std::string last;  // what `own` holds
        fs::File sh = fs::open(shared, fs::OpenFlags::kReadWrite);
        for (int r = 0; r < kRounds; ++r) {
          switch (rng() % 6) {
            case 0: {  // rewrite the own file whole, read it back, stat it
              last = content(w, r, 1 + rng() % 20000);
              fs::write_file(own, last);
              if (fs::read_file(own) != last) mismatches.fetch_add(1);
              if (fs::stat(own).size != last.size()) mismatches.fetch_add(1);
              break;
            }
            case 1: {  // a block of the shared file: pwrite, pread back, sometimes fsync
              std::string b = content(w, r, kBlock);
              sh.pwrite(b, static_cast<std::uint64_t>(w) * kBlock);
              std::string back(kBlock, '\0');
              if (sh.pread(back.data(), kBlock, static_cast<std::uint64_t>(w) * kBlock) != kBlock ||
                  back != b) {
                mismatches.fetch_add(1);
              }
              last_block[static_cast<std::size_t>(w)] = std::move(b);
              if (rng() % 8 == 0) sh.fsync();
              break;
            }
            case 2: {  // rename away and back: the content follows, the old name is gone
              if (last.empty()) break;
              fs::rename(own, moved);
              std::error_code ec;
              fs::stat(own, ec);
              if (ec != std::errc::no_such_file_or_directory) wrong_errors.fetch_add(1);
              fs::rename(moved, own);
              if (fs::read_file(own) != last) mismatches.fetch_add(1);
              break;
            }
            case 3: {  // what does not exist: an error_code, never a throw or a descriptor
              std::error_code ec;
              fs::File f = fs::open(dir.path() / ("missing" + std::to_string(r)), ec);
              if (ec != std::errc::no_such_file_or_directory || f.is_open()) {
                wrong_errors.fetch_add(1);
              }
              std::string s = fs::read_file(dir.path() / "missing-dir" / "x", ec);
              if (ec != std::errc::no_such_file_or_directory || !s.empty()) {
                wrong_errors.fetch_add(1);
              }
              break;
            }
            case 4: {  // the listing holds the shared file and, once written, our own
              auto entries = fs::read_dir(dir.path());
              auto has = [&](const std::string& name) {
                return std::any_of(entries.begin(), entries.end(),
                                   [&](const fs::DirEntry& e) { return e.name == name; });
              };
              if (!has("shared") || (!last.empty() && !has(own.filename().string()) &&
                                     !has(moved.filename().string()))) {
                mismatches.fetch_add(1);
              }
              break;
            }
            case 5: {  // a call long enough for sysmon to hand the P off
              const long us = 50 + static_cast<long>(rng() % 250);
              goro::blocking([us] {
                timespec d{0, us * 1000L};
                ::nanosleep(&d, nullptr);
              });
              break;
            }
          }
          ops.fetch_add(1, std::memory_order_relaxed);
          ch.send(1);
        }
        sh.close();
        workers.done();
      });
    }
    workers.wait();
    ch.close();
    consumer.wait();
    // Every block of the shared file is what its worker wrote last.
    std::string all = fs::read_file(shared);
    ASSERT_EQ(all.size(), kBlock * kWorkers);
    for (int w = 0; w < kWorkers; ++w) {
      const std::string& b = last_block[static_cast<std::size_t>(w)];
      if (!b.empty() && all.compare(static_cast<std::size_t>(w) * kBlock, kBlock, b) != 0) {
        mismatches.fetch_add(1);
      }
    }
    takes = goro::detail::sched.nsyscall_takes.load() - takes_before;
    // The workers and the consumer signal just before they return: give them a moment
    // to be gone (a leak stays).
    for (int i = 0; i < 1000 && goro::num_goroutines() > 1; ++i) goro::sleep(1ms);
    goroutines_after = goro::num_goroutines();
  });
  const std::int64_t total = static_cast<std::int64_t>(kWorkers) * kRounds;
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(wrong_errors.load(), 0);
  EXPECT_EQ(ops.load(), total);
  EXPECT_EQ(received.load(), total);
  EXPECT_EQ(goroutines_after, 1);  // the main goroutine alone
  EXPECT_EQ(net_test::count_fds(), fds_before) << "descriptors left open";
  std::printf("[ info ] %d Ps: %lld operations; sysmon took %llu Ps from calls\n", procs,
              static_cast<long long>(total), static_cast<unsigned long long>(takes));
}

INSTANTIATE_TEST_SUITE_P(Procs, FsStress, ::testing::Values(1, 2, 4));

}  // namespace
