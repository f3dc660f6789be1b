/* Kernels, portable build (see kern_impl.h). */
#define KERN_TABLE fr_kern_ref
#define KERN_ISA "ref"
#include "kern_impl.h"
