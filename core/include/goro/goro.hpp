// goro/goro.hpp — everything in goro's core: the runtime and its synchronization.
#pragma once

#include <goro/core/blocking.hpp>
#include <goro/core/chan.hpp>
#include <goro/core/cond.hpp>
#include <goro/core/context.hpp>
#include <goro/core/errgroup.hpp>
#include <goro/core/fs.hpp>
#include <goro/core/mutex.hpp>
#include <goro/core/once.hpp>
#include <goro/core/runtime.hpp>
#include <goro/core/rw_mutex.hpp>
#include <goro/core/select.hpp>
#include <goro/core/semaphore.hpp>
#include <goro/core/time.hpp>
#include <goro/core/wait_group.hpp>
