// ndshard/ndshard.hpp — the whole library: include this one header.
#pragma once

#include "ndshard/dataset.hpp"
#include "ndshard/dtype.hpp"
#include "ndshard/error.hpp"
#include "ndshard/file.hpp"
#include "ndshard/mapped_npy.hpp"
#include "ndshard/npy.hpp"
#include "ndshard/npy_file.hpp"
#include "ndshard/progress.hpp"
#include "ndshard/stream.hpp"
#include "ndshard/tensor_ref.hpp"
#include "ndshard/text.hpp"
#include "ndshard/thread_pool.hpp"
#include "ndshard/version.hpp"
#include "ndshard/writer.hpp"
#include "ndshard/xtensor.hpp"
#include "ndshard/zarr.hpp"
