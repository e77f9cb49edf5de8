** ./case.img
** Last Mounted on /tmp/tmp.OUqDRftpya
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
BAD TYPE VALUE  I=4  OWNER=root MODE=100644
SIZE=23 MTIME=Aug  4 15:39 2024 
FILE=?

UNEXPECTED SOFT UPDATE INCONSISTENCY

FIX? yes

BAD INODE NUMBER FOR '..' in DIR I=768 (/dir1)
CURRENTLY POINTS TO I=4 (?), SHOULD POINT TO I=2 (/)
FIX? yes

** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
16 files, 441 used, 430 free (38 frags, 49 blocks, 4.4% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
