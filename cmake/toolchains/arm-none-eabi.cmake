# Cross build of the C core for Cortex-M (bare metal) with Debian's gcc-arm-none-eabi:
#   cmake -S . -B build/m4 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm-none-eabi.cmake \
#         -DPE_MCU_FLAGS="-mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16" -DPYEDGE_BUILD_TESTS=OFF
# (M55: -DPE_MCU_FLAGS="-mcpu=cortex-m55 -mfloat-abi=hard"). CMake sees a Generic system, so the
# manifest's `hosted` files (threads, clocks) and the Linux NEON files are left out. This builds
# the static library; a firmware adds its own startup code, linker script and platform file.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(PE_MCU_FLAGS "-mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16" CACHE STRING "Cortex-M CPU flags")
set(CMAKE_C_FLAGS_INIT "${PE_MCU_FLAGS} -ffunction-sections -fdata-sections")
