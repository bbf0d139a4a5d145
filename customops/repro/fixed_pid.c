/* LD_PRELOAD shim for reproducible CUDA builds (build-prebuilt.sh): nvcc names its temporary files
   tmpxft_<pid>_..., and those names end up inside the fatbin and the host object, so two builds of the same
   sources differ. With getpid() fixed (and a private TMPDIR per build, so that fixed names cannot collide)
   the output depends on the inputs only. */
#include <sys/types.h>

pid_t getpid(void) { return (pid_t)0x4a52; }
