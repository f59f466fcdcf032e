/* A PMPI shim for tests/collective/mpi-e2e.sh (LD_PRELOAD): on the rank FB_TEST_CORRUPT_RANK
 * names, every MPI_Iallreduce result gets one element changed when MPI_Testall reports it
 * complete, as a faulty NIC or GPU would. The other ranks' results are untouched. */
#include <mpi.h>
#include <stdlib.h>

static void* g_buffer = NULL;
static int g_count = 0;
static int g_size = 0;

static int is_target(void) {
  const char* target = getenv("FB_TEST_CORRUPT_RANK");
  const char* rank = getenv("OMPI_COMM_WORLD_RANK");
  return target != NULL && rank != NULL && atoi(target) == atoi(rank);
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
      element[0] ^= 0x01; /* the lowest bit of a little-endian element */
    }
    g_buffer = NULL;
  }
  return rc;
}
