# Cross build for 64-bit Windows with Debian's mingw-w64 (x86_64-w64-mingw32).
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake -DVR_WERROR=ON
# The top CMakeLists sees WIN32 and builds only the portable guest side
# (protocol, transport, guest session, videoredir-capture.exe, their tests).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(VR_MINGW_TRIPLET x86_64-w64-mingw32)
# Debian ships a win32-threads and a posix-threads flavour: nothing here uses
# threads, and the win32 one needs no libwinpthread DLL at run time.
find_program(CMAKE_C_COMPILER NAMES ${VR_MINGW_TRIPLET}-gcc-win32 ${VR_MINGW_TRIPLET}-gcc REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${VR_MINGW_TRIPLET}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${VR_MINGW_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Tests run the .exe files under Wine (tests/windows sets WINEPREFIX etc.).
find_program(VR_WINE NAMES wine64 wine PATHS /usr/lib/wine)
if(VR_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VR_WINE})
endif()

# Self-contained .exe files: no libgcc DLL to put next to them (or into Wine).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc")
