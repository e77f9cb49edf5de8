** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
BAD TYPE VALUE  I=29  OWNER=root MODE=100644
SIZE=12 MTIME=May  1 12:00 2020 
FILE=?/hello.txt

FIX? yes

BAD INODE NUMBER FOR '..' in DIR I=6 (/files)
CURRENTLY POINTS TO I=29 (?), SHOULD POINT TO I=2 (/)
FIX? yes

** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
2063 files, 3554 used, 4261 free (5 frags, 532 blocks, 0.1% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
