/* A PMPI shim for tests/collective/mpi-e2e.sh (LD_PRELOAD).
 * FB_TEST_CORRUPT_RANK=R: on rank R every all_reduce result gets one element changed (the lowest
 * bit of the element in the middle) once the call has completed, as a faulty NIC or GPU would:
 * MPI_Allreduce on return, MPI_Iallreduce when MPI_Testall reports it complete. Other ranks'
 * results are untouched.
 * FB_TEST_HANG_RANK=R: on rank R the 200th MPI_Allreduce never returns (the process stays alive
 * and its other threads run), as a rank wedged inside a collective. */
#include <mpi.h>
#include <stdlib.h>
#include <unistd.h>

static void* g_buffer = NULL;
static int g_count = 0;
static int g_size = 0;

static int is_rank(const char* variable) {
  const char* target = getenv(variable);
  const char* rank = getenv("OMPI_COMM_WORLD_RANK");
  return target != NULL && rank != NULL && atoi(target) == atoi(rank);
}

static int is_target(void) {
  return is_rank("FB_TEST_CORRUPT_RANK");
}

static int g_calls = 0;

static void corrupt(void* buffer, int count, MPI_Datatype type) {
  int size = 0;
  PMPI_Type_size(type, &size);
  if (count > 0) {
    unsigned char* element = (unsigned char*)buffer + (size_t)(count / 2) * (size_t)size;
    element[0] ^= 0x01;
  }
}

int MPI_Allreduce(const void* sendbuf, void* recvbuf, int count, MPI_Datatype type, MPI_Op op,
                  MPI_Comm comm) {
  if (is_rank("FB_TEST_HANG_RANK") && ++g_calls >= 200) {
    for (;;) pause();
  }
  const int rc = PMPI_Allreduce(sendbuf, recvbuf, count, type, op, comm);
  if (rc == MPI_SUCCESS && is_target()) corrupt(recvbuf, count, type);
  return rc;
}

int MPI_Iallreduce(const void* sendbuf, void* recvbuf, int count, MPI_Datatype type, MPI_Op op,
                   MPI_Comm comm, MPI_Request* request) {
  const int rc = PMPI_Iallreduce(sendbuf, recvbuf, count, type, op, comm, request);
  if (is_target()) {
    g_buffer = recvbuf;
    g_count = count;
    PMPI_Type_size(type, &g_size);
  }
  return rc;
}

int MPI_Testall(int n, MPI_Request requests[], int* flag, MPI_Status statuses[]) {
  const int rc = PMPI_Testall(n, requests, flag, statuses);
  if (*flag && g_buffer != NULL) {
    if (g_count > 0) {
      unsigned char* element = (unsigned char*)g_buffer + (size_t)(g_count / 2) * (size_t)g_size;
      element[0] ^= 0x01;
    }
    g_buffer = NULL;
  }
  return rc;
}
