/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "client/localdctl/commands.h"

int localdctl_cmd_status (const LocaldctlOptions *opts);
