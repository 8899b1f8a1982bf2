#include "edge_check.h"
static void t(void){CHECK(1);}
EDGE_CHECK_MAIN(t)
