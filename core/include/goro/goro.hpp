// goro/goro.hpp — everything in goro's core: the runtime and its synchronization.
#pragma once

#include <goro/core/runtime.hpp>
#include <goro/core/wait_group.hpp>
