# GORO_SANITIZE=address: ASan + UBSan; GORO_SANITIZE=thread: TSan. Both compile goro's
# fiber annotations in (core/src/context.hpp): every stack switch is announced to the
# sanitizer (__sanitizer_start_switch_fiber / __tsan_switch_to_fiber).
if(GORO_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(GORO_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT GORO_SANITIZE STREQUAL "")
  message(FATAL_ERROR "GORO_SANITIZE must be '', 'address' or 'thread', not '${GORO_SANITIZE}'")
endif()
