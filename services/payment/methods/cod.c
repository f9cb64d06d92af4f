/* stub */ typedef int oms_stub_t;
