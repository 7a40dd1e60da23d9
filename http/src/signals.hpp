// signals.hpp — wait for SIGINT/SIGTERM in a goroutine (Server::shutdown_on_signals).
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>

namespace goro::http::detail {

// Installs handlers for `signals` and starts a goroutine that calls on_signal(signo)
// once, on the first of them to arrive, after restoring the signals' previous actions.
// Returns a handle for stop_signal_watch. std::system_error if the set-up fails.
std::shared_ptr<void> start_signal_watch(std::initializer_list<int> signals,
                                         std::function<void(int)> on_signal);

// Restores the previous actions (if not done yet) and ends the goroutine. Idempotent.
void stop_signal_watch(const std::shared_ptr<void>& watch) noexcept;

}  // namespace goro::http::detail
