** ./case.img
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
BAD TYPE VALUE  I=3  OWNER=root MODE=40755
SIZE=512 MTIME=May  1 12:00 2020 
DIR=/special

FIX? yes

** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
2063 files, 3554 used, 4261 free (5 frags, 532 blocks, 0.1% fragmentation)

***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
