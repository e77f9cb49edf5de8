** ./case.img
BAD SUPER BLOCK: superblock at byte 65536: superblock geometry is invalid: fs_bsize 3 is not a power of two in 4096..=65536

LOOK FOR ALTERNATE SUPERBLOCKS? yes

USING ALTERNATE SUPERBLOCK AT 144
** Last Mounted on 
** Phase 1 - Check Blocks and Sizes
** Phase 2 - Check Pathnames
** Phase 3 - Check Connectivity
** Phase 4 - Check Reference Counts
** Phase 5 - Check Cyl groups
172 files, 20985 used, 2102 free (6 frags, 262 blocks, 0.0% fragmentation)

UPDATE STANDARD SUPERBLOCK? yes


***** FILE SYSTEM IS CLEAN *****

***** FILE SYSTEM WAS MODIFIED *****
Exit status is 1
