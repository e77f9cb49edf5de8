** ./case.img
** Last Mounted on /tmp/tmp.OUqDRftpya
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
I OUT OF RANGE  I=99999999 
NAME=/.snap

UNEXPECTED SOFT UPDATE INCONSISTENCY

REMOVE? yes

** Phase 3 - Check Connectivity
UNREF DIR  I=3  OWNER=root MODE=40775
SIZE=512 MTIME=Aug  4 15:39 2024 
RECONNECT? yes

NO lost+found DIRECTORY
CREATE? yes

DIR I=3 CONNECTED. PARENT WAS I=2

** Phase 4 - Check Reference Counts
LINK COUNT DIR I=2  OWNER=root MODE=40755
SIZE=512 MTIME=Aug  4 15:39 2024  COUNT 5 SHOULD BE 4
ADJUST? yes

** Phase 5 - Check Cyl groups
FREE BLK COUNT(S) WRONG IN SUPERBLK
SALVAGE? yes

SUMMARY INFORMATION BAD
SALVAGE? yes

BLK(S) MISSING IN BIT MAPS
SALVAGE? yes

17 files, 442 used, 429 free (37 frags, 49 blocks, 4.2% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
