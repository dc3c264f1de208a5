// Runs the three stages (load, check, deliver) on their own threads, each woken by the one
// before it as soon as it commits work, so an alert leaves milliseconds after an upload.
#pragma once

#include <memory>
#include <thread>

#include "base/work_signal.h"
#include "core/checker/checker.h"
#include "core/delivery/dispatcher.h"
#include "core/loader/loader.h"

namespace stockwatch::core {

// REQUIRES: the stages outlive the Pipeline. Start() once; Stop() (or the destructor) joins.
class Pipeline {
 public:
  Pipeline(Loader& loader, Checker& checker, Dispatcher& dispatcher, Clock& clock);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Starts the stage threads; each first handles what is pending from before (recovery).
  void Start();
  // Stops the stages after the work in hand; idempotent.
  void Stop();

  // Notified by whoever commits a new upload event (the HTTP upload route).
  base::WorkSignal& loader_wakeup() { return load_signal_; }
  // For tests and tools: notified after each loader, checker and dispatcher round.
  base::WorkSignal& check_wakeup() { return check_signal_; }
  base::WorkSignal& deliver_wakeup() { return deliver_signal_; }

 private:
  void RunLoader();
  void RunChecker();
  void RunDispatcher();

  Loader& loader_;
  Checker& checker_;
  Dispatcher& dispatcher_;
  Clock& clock_;
  base::WorkSignal load_signal_;
  base::WorkSignal check_signal_;
  base::WorkSignal deliver_signal_;
  std::thread load_thread_;
  std::thread check_thread_;
  std::thread deliver_thread_;
};

}  // namespace stockwatch::core
