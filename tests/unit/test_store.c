#include <criterion/criterion.h>
Test (stub, placeholder) { cr_assert (1); }
